//! The `patron` command against the running suite, through the gateway:
//! train with `--activate-if-better` (both branches), the model registry,
//! evaluation reports, manager reports, batch jobs, exports (Parquet read
//! back equal to CSV) and plots (valid PNG and SVG), and the error line and
//! exit code of failed calls.

use std::path::{Path, PathBuf};
use std::process::Output;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use patron_tests::{Suite, binaries_dir};
use serde_json::Value;

/// Runs `patron` with the suite's address and key in the environment, as a
/// notebook's shell would, and no config file.
struct Patron {
    addr: String,
    token: String,
    dir: PathBuf,
}

impl Patron {
    fn new(suite: &Suite, dir: &Path) -> Self {
        Self { addr: format!("http://127.0.0.1:{}", suite.gateway_port), token: suite.dev_key.clone(), dir: dir.into() }
    }

    async fn run(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(binaries_dir().join("patron"))
            .args(args)
            .env("PATRON_ADDR", &self.addr)
            .env("PATRON_TOKEN", &self.token)
            .env("XDG_CONFIG_HOME", &self.dir)
            .env_remove("PATRON_CONFIG")
            .current_dir(&self.dir)
            .output()
            .await
            .expect("patron runs")
    }

    /// Stdout of a run that must succeed.
    async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "patron {args:?} failed ({}):\n{stdout}\n{stderr}", output.status);
        format!("{stdout}{stderr}")
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["--output", "json"]);
        let output = self.run(&args).await;
        assert!(output.status.success(), "patron {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("--output json prints JSON")
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

fn rows(value: &Value, table: &str) -> Vec<Value> {
    value[table].as_array().unwrap_or_else(|| panic!("no table {table} in {value}")).clone()
}

/// The active version of a service, from `models list --status active`.
async fn active(patron: &Patron, service: &str) -> String {
    let listed = patron.json(&["models", "list", service, "--status", "active"]).await;
    let models = rows(&listed, "models");
    assert_eq!(models.len(), 1, "{listed}");
    models[0]["id"].as_str().expect("id").to_owned()
}

/// The verdict `train --activate-if-better roc_auc` printed: the active and
/// the new version's AUC, and whether the new one was activated (only when
/// strictly better).
fn verdict(output: &str) -> (f64, f64, bool) {
    let line = output.lines().find(|line| line.starts_with("roc_auc: active ")).unwrap_or_else(|| panic!("{output}"));
    let numbers: Vec<f64> =
        line.split(|c: char| !(c.is_ascii_digit() || c == '.')).filter_map(|word| word.parse().ok()).collect();
    let (active, new) = (numbers[0], numbers[1]);
    let activated = output.contains("Activated ");
    assert_eq!(activated, !output.contains("Kept the active version"), "{output}");
    assert_eq!(activated, new > active, "activated only when strictly better: {output}");
    (active, new, activated)
}

/// The version `patron train` printed as "New version <id>".
fn new_version(output: &str) -> String {
    let line = output.lines().find_map(|line| line.strip_prefix("New version ")).unwrap_or_else(|| panic!("{output}"));
    line.trim().to_owned()
}

fn assert_png(path: &str) {
    let bytes = std::fs::read(path).expect("png written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{path} is not a PNG");
    // The first chunk is IHDR: length, type, then width and height.
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().expect("4 bytes"));
    let height = u32::from_be_bytes(bytes[20..24].try_into().expect("4 bytes"));
    assert!((600..=2000).contains(&width) && (400..=1200).contains(&height), "{path}: {width}x{height}");
    assert!(bytes.len() > 5_000, "{path} is only {} bytes: an empty canvas?", bytes.len());
}

fn assert_svg(path: &str) {
    let text = std::fs::read_to_string(path).expect("svg written");
    let document = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    assert_eq!(document.root_element().tag_name().name(), "svg");
    let shapes = document.descendants().filter(|node| node.is_element()).count();
    assert!(shapes > 20, "{path} has only {shapes} elements");
    assert!(text.len() > 2_000, "{path} is only {} bytes", text.len());
}

/// CSV cells as text, and Parquet values printed the way the CSV writes them.
fn csv_rows(path: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).expect("csv");
    let header = reader.headers().expect("header").iter().map(str::to_owned).collect();
    let rows = reader.records().map(|row| row.expect("row").iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

fn parquet_rows(path: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let reader = SerializedFileReader::new(std::fs::File::open(path).expect("parquet")).expect("a parquet file");
    let header = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|column| column.name().to_owned())
        .collect();
    let rows = reader
        .get_row_iter(None)
        .expect("rows")
        .map(|row| {
            row.expect("row")
                .get_column_iter()
                .map(|(_, field)| match field {
                    Field::Null => String::new(),
                    Field::Str(text) => text.clone(),
                    Field::Long(value) => value.to_string(),
                    Field::Double(value) => value.to_string(),
                    other => panic!("unexpected parquet value {other:?}"),
                })
                .collect()
        })
        .collect();
    (header, rows)
}

async fn assert_parquet_equals_csv(patron: &Patron, what: &str, extra: &[&str]) -> usize {
    let (csv_path, parquet_path) = (patron.path(&format!("{what}.csv")), patron.path(&format!("{what}.parquet")));
    let mut args = vec!["export", what, "--out", &csv_path];
    args.extend(extra);
    patron.ok(&args).await;
    let mut args = vec!["export", what, "--format", "parquet", "--out", &parquet_path];
    args.extend(extra);
    patron.ok(&args).await;
    let (csv_header, csv) = csv_rows(&csv_path);
    let (parquet_header, parquet) = parquet_rows(&parquet_path);
    assert_eq!(csv_header, parquet_header, "{what}: same columns");
    assert_eq!(
        csv_header.first().map(String::as_str),
        if what == "forecasts" { Some("forecast_id") } else { Some("customer_id") }
    );
    assert!(!csv.is_empty(), "{what}: no rows");
    assert_eq!(csv, parquet, "{what}: parquet rows differ from csv rows");
    csv.len()
}

/// The series a forecast model is trained on.
const FORECAST_SERIES: &str = "measure=revenue,granularity=week,levels=total;channel";

#[tokio::test]
async fn the_patron_command_trains_promotes_evaluates_reports_exports_and_plots() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let suite = Suite::up_with_demo(600).await;
    let dir = suite.data_dir.join("cli");
    std::fs::create_dir_all(&dir).expect("work dir");
    let patron = Patron::new(&suite, &dir);

    // Training: the first version of each model has nothing to beat.
    for train in [
        &["train", "segmentation", "--param", "seed=1", "--activate-if-better", "silhouette"][..],
        &["train", "forecast", "--param", FORECAST_SERIES, "--activate-if-better", "mase"],
    ] {
        let output = patron.ok(train).await;
        assert!(output.contains("No version was active; activated"), "{output}");
    }
    let output = patron.ok(&["train", "forecast", "--param", FORECAST_SERIES, "--activate-if-better", "mase"]).await;
    assert!(output.contains("mase: active"), "{output}");

    // --activate-if-better roc_auc, both branches. Two configurations that
    // rank customers differently: a heavily regularised classifier and the
    // default one. Whichever is better, one run below activates a better
    // version and another keeps the active one against a worse one.
    let weak = ["train", "churn", "--param", "logistic.alpha=1000000", "--activate-if-better", "roc_auc"];
    let default = ["train", "churn", "--activate-if-better", "roc_auc"];
    let output = patron.ok(&weak).await;
    assert!(output.contains("No version was active; activated"), "{output}");
    let weak_version = active(&patron, "churn").await;
    let output = patron.ok(&default).await;
    let (_, _, activated) = verdict(&output);
    let default_version = new_version(&output);
    // Retrain the heavily regularised configuration against whichever is
    // active now: the one it lost to (kept) or the one it beat (activated).
    let (strong_version, weak_version) = if activated {
        assert_eq!(active(&patron, "churn").await, default_version, "the better version is active");
        let (_, _, activated_again) = verdict(&patron.ok(&weak).await);
        assert!(!activated_again, "a worse version is not activated");
        (default_version, weak_version)
    } else {
        assert_eq!(active(&patron, "churn").await, weak_version, "a worse version stays a candidate");
        patron.ok(&["models", "activate", "churn", &default_version]).await;
        let (_, _, activated_again) = verdict(&patron.ok(&weak).await);
        assert!(activated_again, "a better version is activated");
        (active(&patron, "churn").await, default_version)
    };
    let candidates = patron.json(&["models", "list", "churn", "--status", "candidate"]).await;
    assert_eq!(rows(&candidates, "models").len(), usize::from(activated), "{candidates}");

    // The registry: list, show, compare, rollback and activate.
    let listed = patron.json(&["models", "list", "churn"]).await;
    assert_eq!(rows(&listed, "models").len(), 3, "{listed}");
    let shown = patron.json(&["models", "show", "churn", &strong_version]).await;
    assert!(rows(&shown, "metrics").iter().any(|row| row["metric"] == "roc_auc"), "{shown}");
    assert!(rows(&shown, "churn_model").iter().any(|row| row["field"] == "bg_nbd_r"), "{shown}");
    let compared = patron.json(&["models", "compare", "churn", &weak_version]).await;
    let auc = rows(&compared, "metrics").into_iter().find(|row| row["metric"] == "roc_auc").expect("roc_auc compared");
    assert_eq!(auc["candidate_better"], "false", "{compared}");
    let segmentation_version = active(&patron, "segmentation").await;
    let text = patron.ok(&["models", "show", "segmentation", &segmentation_version]).await;
    assert!(text.contains("segments") && text.contains("kmeans"), "{text}");
    let rolled = patron.json(&["models", "rollback", "churn"]).await;
    assert_eq!(rows(&rolled, "activation")[0]["value"], weak_version.as_str(), "{rolled}");
    let activated = patron.json(&["models", "activate", "churn", &strong_version]).await;
    assert_eq!(rows(&activated, "activation")[0]["value"], strong_version.as_str(), "{activated}");
    let csv = patron.ok(&["models", "list", "forecast", "--output", "csv"]).await;
    assert!(csv.starts_with("id,kind,status,"), "{csv}");

    // Evaluation reports, with plots.
    let evaluation = patron.json(&["evaluate", "churn", "--plot", &patron.path("churn.png")]).await;
    assert_eq!(rows(&evaluation, "lift").len(), 10, "{evaluation}");
    assert!(!rows(&evaluation, "calibration").is_empty());
    assert_png(&patron.path("churn.png"));
    let evaluation =
        patron.json(&["evaluate", "churn", "--version", &weak_version, "--plot", &patron.path("churn.svg")]).await;
    assert_eq!(rows(&evaluation, "holdout")[0]["value"], weak_version.as_str());
    assert_svg(&patron.path("churn.svg"));
    let evaluation = patron.json(&["evaluate", "segmentation", "--plot", &patron.path("scatter.svg")]).await;
    assert!(!rows(&evaluation, "segments").is_empty(), "{evaluation}");
    assert_svg(&patron.path("scatter.svg"));
    patron.ok(&["evaluate", "segmentation", "--plot", &patron.path("scatter.png")]).await;
    assert_png(&patron.path("scatter.png"));
    let evaluation = patron.json(&["evaluate", "forecast"]).await;
    assert!(rows(&evaluation, "methods").iter().any(|row| row["method"] == "model_choice"), "{evaluation}");
    let text = patron.ok(&["evaluate", "forecast", "--output", "table"]).await;
    assert!(text.contains("mase"), "{text}");

    // Manager reports.
    let kpis = patron.json(&["report", "kpis"]).await;
    let active_customers = rows(&kpis, "kpis").into_iter().find(|row| row["kpi"] == "active_customers").expect("kpi");
    assert!(active_customers["period"].as_i64().is_some_and(|count| count > 0), "{kpis}");
    let pareto = patron.json(&["report", "pareto", "--plot", &patron.path("pareto.png")]).await;
    assert_eq!(rows(&pareto, "concentration").len(), 3, "{pareto}");
    assert_png(&patron.path("pareto.png"));
    patron.ok(&["report", "pareto", "--plot", &patron.path("pareto.svg")]).await;
    assert_svg(&patron.path("pareto.svg"));
    let segments = patron.json(&["report", "segments", "--plot", &patron.path("segments.png")]).await;
    assert!(rows(&segments, "segments").len() >= 2, "{segments}");
    assert_png(&patron.path("segments.png"));
    patron.ok(&["report", "segments", "--plot", &patron.path("segments.svg")]).await;
    assert_svg(&patron.path("segments.svg"));
    let forecast = patron.json(&["report", "forecast", "--horizon", "8", "--plot", &patron.path("forecast.png")]).await;
    let points = rows(&forecast, "points");
    assert_eq!(points.len(), 8, "{forecast}");
    assert!(points.iter().all(|point| point["lower_95"].as_f64() <= point["lower_80"].as_f64()), "{forecast}");
    assert_png(&patron.path("forecast.png"));
    patron.ok(&["report", "forecast", "--horizon", "8", "--plot", &patron.path("forecast.svg")]).await;
    assert_svg(&patron.path("forecast.svg"));

    // Exports read stored results: the batch jobs store them.
    let assigned = patron.json(&["batch", "segments"]).await;
    assert_eq!(rows(&assigned, "segments")[0]["value"], segmentation_version.as_str(), "{assigned}");
    let scored = patron.json(&["batch", "scores"]).await;
    assert_eq!(rows(&scored, "scores")[0]["value"], strong_version.as_str(), "{scored}");
    let output = patron.ok(&["batch", "forecasts", "--levels", "total,channel", "--horizon", "8"]).await;
    assert!(output.contains("series_done"), "{output}");
    let winback = patron.json(&["report", "winback", "--channel", "email", "--limit", "20"]).await;
    let candidates = rows(&winback, "winback");
    assert!(!candidates.is_empty() && candidates.len() <= 20, "{winback}");
    assert_eq!(candidates[0]["rank"], 1);

    let features =
        assert_parquet_equals_csv(&patron, "features", &["--as-of", "2026-01-01", "--time-unit", "weeks"]).await;
    let (header, csv) = csv_rows(&patron.path("features.csv"));
    let unit = header.iter().position(|column| column == "time_unit").expect("time unit column");
    assert!(csv.iter().all(|row| row[unit] == "weeks"));
    let scores = assert_parquet_equals_csv(&patron, "scores", &[]).await;
    let members = assert_parquet_equals_csv(&patron, "segments", &[]).await;
    let forecasts = assert_parquet_equals_csv(&patron, "forecasts", &[]).await;
    assert!(features > 100 && scores > 100 && members > 100, "{features} {scores} {members}");
    assert_eq!(forecasts % 8, 0, "8 periods per stored forecast");
    // The file format follows the extension.
    patron.ok(&["export", "scores", "--out", &patron.path("by-extension.parquet")]).await;
    assert_eq!(parquet_rows(&patron.path("by-extension.parquet")).1.len(), scores);

    // A failed call: one line with the gRPC status, and its exit code.
    let output = patron.run(&["models", "show", "churn", "no-such-version"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "NOT_FOUND exits with 3: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("patron: showing churn model no-such-version: NOT_FOUND: "), "{stderr}");
    let output = patron.run(&["report", "pareto", "--from", "2026-02-01", "--to", "2026-01-01"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "INVALID_ARGUMENT exits with 4: {stderr}");
    assert!(stderr.contains("INVALID_ARGUMENT"), "{stderr}");
    suite.terminate().await;
}

#[tokio::test]
async fn usage_mistakes_and_an_unreachable_gateway_have_their_own_exit_codes() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let dir = std::env::temp_dir().join(format!("patron-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let patron = Patron { addr: format!("http://127.0.0.1:{port}"), token: "pak_unused".into(), dir: dir.clone() };

    let output = patron.run(&["models", "list", "churn"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "UNAVAILABLE exits with 5: {stderr}");
    assert!(stderr.contains("UNAVAILABLE") && stderr.lines().count() == 1, "{stderr}");

    let output = patron.run(&["report", "pareto", "--plot", "chart.gif"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    let output = patron.run(&["export", "scores", "--as-of", "2026-01-01", "--out", "x.csv"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    let output = patron.run(&["models", "frobnicate"]).await;
    assert_eq!(output.status.code(), Some(2), "clap's usage errors exit with 2 too");

    // A config file supplies the address when the environment does not.
    std::fs::write(dir.join("patron.conf"), format!("addr = http://127.0.0.1:{port}\n")).expect("config");
    let output = tokio::process::Command::new(binaries_dir().join("patron"))
        .args(["models", "list", "churn", "--config", "patron.conf"])
        .env_remove("PATRON_ADDR")
        .env_remove("PATRON_TOKEN")
        .current_dir(&dir)
        .output()
        .await
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "the configured address is used: {stderr}");
    let help = patron.run(&["--help"]).await;
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Exit codes:") && help.contains("NOT_FOUND"), "{help}");
    let _ = std::fs::remove_dir_all(&dir);
}
