//! Where the gateway is and which token to present, shared by every command
//! that calls it.
//!
//! Each setting is taken from the first place that has it: the flag, the
//! environment (`PATRON_ADDR`, `PATRON_TOKEN`), the config file
//! (`--config`, `PATRON_CONFIG`, default `$XDG_CONFIG_HOME/patron/config` or
//! `~/.config/patron/config`), then the built-in default
//! (`http://127.0.0.1:50051`; the development key `patron up` wrote).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use secrecy::SecretString;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::credentials::{Bearer, TokenArgs};
use crate::failure::Failure;

const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";

/// A channel to the gateway that adds the bearer token to every call.
pub type Authed = InterceptedService<Channel, Bearer>;

#[derive(Debug, Clone, clap::Args)]
pub struct GatewayArgs {
    /// The gateway's address [default: the config file's `addr`, else http://127.0.0.1:50051].
    #[arg(long, env = "PATRON_ADDR", global = true)]
    addr: Option<String>,
    /// A file of `key = value` lines (`addr`, `token`) read when the flags and environment leave a setting unset.
    #[arg(long, env = "PATRON_CONFIG", value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(flatten)]
    token: TokenArgs,
}

/// The settings a config file may hold.
#[derive(Debug, Default, PartialEq)]
struct ConfigFile {
    addr: Option<String>,
    token: Option<String>,
}

impl ConfigFile {
    fn parse(text: &str, path: &Path) -> anyhow::Result<Self> {
        let mut config = Self::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                bail!("{}:{}: expected `key = value`", path.display(), index + 1);
            };
            let value = value.trim().trim_matches('"').to_owned();
            match key.trim() {
                "addr" => config.addr = Some(value),
                "token" => config.token = Some(value),
                other => bail!("{}:{}: unknown setting {other:?} (known: addr, token)", path.display(), index + 1),
            }
        }
        Ok(config)
    }

    /// The named file must exist; the default one may be absent.
    fn load(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let (path, required) = match explicit {
            Some(path) => (path.to_path_buf(), true),
            None => match default_config_path() {
                Some(path) => (path, false),
                None => return Ok(Self::default()),
            },
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !required => Ok(Self::default()),
            Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
        }
    }
}

fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("patron").join("config"))
}

impl GatewayArgs {
    /// The address and token after flags, environment and config file.
    fn resolve(&self) -> anyhow::Result<(String, Option<SecretString>)> {
        let config = ConfigFile::load(self.config.as_deref())?;
        let addr = self.addr.clone().or(config.addr).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let token = self.token.resolve_with(config.token)?;
        Ok((addr, token))
    }

    /// Connects, failing with UNAVAILABLE when nothing answers.
    pub async fn connect(&self) -> anyhow::Result<(Channel, Bearer)> {
        let (addr, token) = self.resolve()?;
        let endpoint = tonic::transport::Endpoint::from_shared(addr.clone())
            .map_err(|_| Failure::usage(format!("--addr {addr:?} is not a valid address")))?
            .connect_timeout(Duration::from_secs(5));
        let channel = endpoint.connect().await.map_err(|error| {
            Failure::call(format!("connecting to {addr}"), tonic::Status::unavailable(causes(&error)))
        })?;
        Ok((channel, Bearer::new(token.as_ref())?))
    }

    /// A connected channel with the token attached, for generated clients.
    pub async fn authed(&self) -> anyhow::Result<Authed> {
        let (channel, bearer) = self.connect().await?;
        Ok(InterceptedService::new(channel, bearer))
    }
}

/// An error and its sources in one line, without the repetitions transport
/// errors carry ("tcp connect error: tcp connect error: ...").
fn causes(error: &dyn std::error::Error) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(error) = next {
        let message = error.to_string();
        if messages.last() != Some(&message) {
            messages.push(message);
        }
        next = error.source();
    }
    messages.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lines_are_read_and_mistakes_named() {
        let path = Path::new("config");
        let config = ConfigFile::parse("# comment\naddr = http://gw:50051\n\ntoken=\"pak_1\"\n", path).expect("valid");
        assert_eq!(config, ConfigFile { addr: Some("http://gw:50051".into()), token: Some("pak_1".into()) });
        let error = ConfigFile::parse("adr = x", path).expect_err("unknown key");
        assert!(error.to_string().contains("adr"), "{error}");
        assert!(ConfigFile::parse("addr", path).is_err());
    }

    #[test]
    fn the_flag_wins_over_the_config_file() {
        let dir = std::env::temp_dir().join(format!("patron-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("config");
        std::fs::write(&file, "addr = http://from-file:1\ntoken = pak_file\n").expect("written");
        let mut args = GatewayArgs { addr: None, config: Some(file), token: TokenArgs::none() };
        let (addr, token) = args.resolve().expect("resolves");
        assert_eq!(addr, "http://from-file:1");
        assert!(token.is_some());
        args.addr = Some("http://flag:2".into());
        assert_eq!(args.resolve().expect("resolves").0, "http://flag:2");
        args.config = Some(dir.join("absent"));
        assert!(args.resolve().is_err(), "a named config file must exist");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
