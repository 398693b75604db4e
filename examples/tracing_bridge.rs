//! An app instrumented with `tracing`, logging through kolog:
//! `cargo run --example tracing_bridge --features tracing`.

use tracing_subscriber::prelude::*;

#[tracing::instrument]
fn handle(user_id: u64) {
    tracing::info!(latency_ms = 3.5, "request handled");
}

fn main() -> Result<(), kolog::Error> {
    let kolog = kolog::Kolog::default();
    tracing_subscriber::registry()
        .with(kolog::bridge::tracing::layer(&kolog))
        .init();
    let span = tracing::info_span!("server", port = 8080);
    let _guard = span.enter();
    handle(42);
    tracing::warn!("shutting down");
    drop(_guard);
    kolog.shutdown()?;
    Ok(())
}
