//! `patron import FILE`: streams a file of customers, orders, contacts or
//! feedback through ProfileService.ImportRecords (via the gateway or straight
//! to the profile service), with a progress bar, each rejected row and a final
//! summary. Exit code: 0 when every row landed, 2 when some row was rejected,
//! 1 when the call or the file failed.
//!
//! The client parses the file (the default header in [`csv_rows`], or a
//! preset in [`presets`]) and sends every data row as an `ImportRow` carrying
//! its 1-based line in the file; the server validates and commits in batches.
//!
//! A value the client cannot read at all (a bad number, date, code or money
//! amount, a record with the wrong number of columns) is rejected here: it is
//! printed with its line and field like the server's rejections, counted as
//! rejected, and not sent. Sending such a row with the field unset instead
//! would make the server report a missing value where the file holds a wrong
//! one, and would silently import fields whose unset value is valid (a
//! discount, a status). Empty values, by contrast, are sent unset, and every
//! rule about what is required or in range stays with the server.

pub mod csv_rows;
pub mod dates;
pub mod encoding;
#[cfg(test)]
mod hostile_files;
pub mod money;
pub mod presets;
mod quotes;
mod report;
pub mod rows;
mod upload;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use patron_proto::profile::v1::ImportHeader;

use self::csv_rows::CsvRows;
use self::presets::{CdnowRows, Preset, UciRows};
use self::report::Reporter;
use self::rows::{Kind, RowSource};

/// Largest batch the server accepts.
const MAX_BATCH_SIZE: u32 = 10_000;

#[derive(Debug, clap::Args)]
#[command(after_long_help = csv_rows::HEADER_HELP)]
pub struct ImportArgs {
    /// The file: a CSV with the default header (see --help), or a preset's layout.
    file: PathBuf,
    /// What the file holds; implied by --preset.
    #[arg(long, value_enum, required_unless_present = "preset")]
    kind: Option<Kind>,
    /// Read a public retail layout of orders instead of the default header.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Read source column COLUMN as FIELD of the default header, e.g. --map "Order No=order_id"; repeatable.
    #[arg(long = "map", value_name = "COLUMN=FIELD", value_parser = column_mapping, conflicts_with = "preset")]
    mappings: Vec<(String, String)>,
    /// The gateway (or the profile service itself, with --addr).
    #[command(flatten)]
    gateway: crate::connection::GatewayArgs,
    /// Rows per batch; each batch is committed in one transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_BATCH_SIZE)))]
    batch_size: u32,
    /// Names the import in the server's logs; default: from the file name and the time.
    #[arg(long)]
    request_id: Option<String>,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let kind = match (args.preset, args.kind) {
        (Some(_), Some(kind)) if kind != Kind::Orders => {
            bail!("--preset files hold orders, not {}", kind.name())
        }
        (Some(_), _) => Kind::Orders,
        (None, Some(kind)) => kind,
        (None, None) => bail!("--kind is required without --preset"),
    };
    let label =
        args.file.file_name().map_or_else(|| args.file.display().to_string(), |name| name.display().to_string());
    let source = open(&args, kind).with_context(|| args.file.display().to_string())?;
    let file_bytes = std::fs::metadata(&args.file).map_or(0, |metadata| metadata.len());
    let request_id = args.request_id.unwrap_or_else(|| default_request_id(&label));
    let header = ImportHeader { request_id, kind: kind.to_proto().into(), source: label.clone() };
    let reporter = Reporter::new(file_bytes);
    let channel = args.gateway.authed().await?;
    let upload = upload::Upload { channel, header, batch_size: args.batch_size as usize };
    let totals = upload::upload(source, upload, &reporter).await?;
    reporter.finish(&label, &totals);
    Ok(if totals.rejected() > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn open(args: &ImportArgs, kind: Kind) -> anyhow::Result<Box<dyn RowSource>> {
    let file =
        encoding::as_utf8(std::fs::File::open(&args.file).context("opening the file")?).context("reading the file")?;
    Ok(match args.preset {
        Some(Preset::Uci) => Box::new(UciRows::new(file)?),
        Some(Preset::Cdnow) => Box::new(CdnowRows::new(std::io::BufReader::new(file))),
        None => {
            let rows = CsvRows::new(file, kind, &args.mappings)?;
            if !rows.ignored_columns().is_empty() {
                eprintln!(
                    "patron: ignoring columns that name no {} field: {}",
                    kind.name(),
                    rows.ignored_columns().join(", ")
                );
            }
            Box::new(rows)
        }
    })
}

/// "import-orders.csv-1764000000123": unique enough to tell imports apart in logs.
fn default_request_id(label: &str) -> String {
    let millis =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_millis());
    let label: String = label.chars().take(80).collect();
    format!("import-{label}-{millis}")
}

/// `COLUMN=FIELD` of `--map`; the column may itself contain "=" only before the last one.
fn column_mapping(text: &str) -> Result<(String, String), String> {
    match text.rsplit_once('=') {
        Some((column, field)) if !column.trim().is_empty() && !field.trim().is_empty() => {
            Ok((column.trim().to_owned(), field.trim().to_owned()))
        }
        _ => Err(format!("{text:?} is not COLUMN=FIELD")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        import: ImportArgs,
    }

    #[test]
    fn reads_the_flags() {
        let parsed = Command::try_parse_from([
            "import",
            "x.csv",
            "--kind",
            "orders",
            "--map",
            "Order No=order_id",
            "--map",
            "When=placed_at",
        ])
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(parsed.import.kind, Some(Kind::Orders));
        assert_eq!(parsed.import.mappings[0], ("Order No".to_owned(), "order_id".to_owned()));
        assert_eq!(parsed.import.batch_size, 1000);
        assert!(Command::try_parse_from(["import", "x.csv"]).is_err(), "--kind or --preset is required");
        assert!(Command::try_parse_from(["import", "x.csv", "--preset", "cdnow"]).is_ok());
        assert!(Command::try_parse_from(["import", "x", "--preset", "uci", "--map", "a=b"]).is_err());
        assert!(Command::try_parse_from(["import", "x", "--kind", "orders", "--batch-size", "10001"]).is_err());
        assert!(Command::try_parse_from(["import", "x", "--kind", "orders", "--map", "order_id"]).is_err());
    }
}
