//! The credentials the `patron` command uses and makes.
//!
//! Calls through the gateway carry a bearer token: `--token`, else
//! `PATRON_TOKEN`, else the development key `patron up` wrote to
//! `<data-dir>/dev-api-key`. `patron up` also makes the internal token the
//! services share for the run.

use std::path::{Path, PathBuf};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

/// Where `patron up` writes the development API key.
pub const DEV_KEY_FILE: &str = "dev-api-key";
/// Where `patron up` writes the run's internal token.
pub const INTERNAL_TOKEN_FILE: &str = "internal-token";

#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// Bearer token for the gateway (an API key or a JWT).
    #[arg(long, env = "PATRON_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// File holding the token when --token and PATRON_TOKEN are unset.
    #[arg(long, default_value = "data/dev-api-key", global = true)]
    token_file: PathBuf,
}

impl TokenArgs {
    /// The token to send, if any: the flag or environment, else a config
    /// file's token, else the token file; a missing default file just means
    /// none.
    pub fn resolve_with(&self, configured: Option<String>) -> anyhow::Result<Option<SecretString>> {
        if let Some(token) = self.token.as_deref().filter(|token| !token.is_empty()) {
            return Ok(Some(SecretString::from(token.to_owned())));
        }
        if let Some(token) = configured.filter(|token| !token.is_empty()) {
            return Ok(Some(SecretString::from(token)));
        }
        match std::fs::read_to_string(&self.token_file) {
            Ok(text) => Ok(Some(SecretString::from(text.trim().to_owned()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("reading {}", self.token_file.display())),
        }
    }
}

#[cfg(test)]
impl TokenArgs {
    /// No flag and a token file that does not exist.
    pub fn none() -> Self {
        Self { token: None, token_file: PathBuf::from("/nonexistent/patron/dev-api-key") }
    }
}

/// A tonic interceptor adding `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<tonic::metadata::AsciiMetadataValue>);

impl Bearer {
    pub fn new(token: Option<&SecretString>) -> anyhow::Result<Self> {
        let value = token
            .map(|token| {
                let mut value =
                    tonic::metadata::AsciiMetadataValue::try_from(format!("Bearer {}", token.expose_secret()))
                        .map_err(|_| anyhow::anyhow!("the token must be printable ASCII"))?;
                value.set_sensitive(true);
                anyhow::Ok(value)
            })
            .transpose()?;
        Ok(Self(value))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A fresh random secret of 32 bytes, hex-encoded, from the OS generator.
pub fn random_secret() -> anyhow::Result<String> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no OS randomness: {error}"))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Writes `secret` to `path`, readable by its owner only.
pub fn write_private(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_hex() {
        let (first, second) = (random_secret().expect("random"), random_secret().expect("random"));
        assert_eq!(first.len(), 64);
        assert!(first.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }

    #[test]
    fn the_token_flag_wins_over_the_file_and_a_missing_file_means_none() {
        let dir = std::env::temp_dir().join(format!("patron-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join(DEV_KEY_FILE);
        write_private(&file, "pak_from_file").expect("written");
        let from_file = TokenArgs { token: None, token_file: file.clone() };
        assert_eq!(
            from_file.resolve_with(None).expect("reads").map(|token| token.expose_secret().to_owned()).as_deref(),
            Some("pak_from_file")
        );
        let flag = TokenArgs { token: Some("pak_flag".into()), token_file: file };
        assert_eq!(
            flag.resolve_with(None).expect("reads").map(|token| token.expose_secret().to_owned()).as_deref(),
            Some("pak_flag")
        );
        let none = TokenArgs { token: None, token_file: dir.join("absent") };
        assert!(none.resolve_with(None).expect("no file is fine").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
