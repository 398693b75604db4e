//! Load the logging system from a file: `cargo run --example config_file [-- examples/kolog.yaml]`.
//! Writes JSON lines for the `app` logger to `kolog-example.log` and plain text to stderr.

use kolog::{bind, error, info, warning, Kolog};

fn main() -> Result<(), kolog::Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/kolog.json".into());
    let kolog = Kolog::from_path(&path)?;
    let app = kolog.logger("app.http")?; // configured `app`: JSON file, DEBUG, context service=example
    let other = kolog.logger("worker")?; // falls back to `root`: stderr
    info!(app, "listening", port = 8080);
    let req = bind!(app, request_id = "r-1");
    warning!(req, "slow request", latency_ms = 950.5);
    error!(other, "worker crashed", code = 3);
    let report = kolog.shutdown()?;
    eprintln!(
        "{path}: written {} records, dropped {}",
        report.written, report.dropped
    );
    Ok(())
}
