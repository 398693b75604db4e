//! Capturing a logger's records with a Sink, as a test would: `cargo run --example test_sink`.

use kolog::{info, warning, Kolog, Sink};

fn main() -> Result<(), kolog::Error> {
    let kolog = Kolog::default();
    let sink = Sink::new();
    kolog.queue_manager().add_sink("app", sink.clone());
    let log = kolog.logger("app.users")?;
    info!(log, "Test message", user_id = 7);
    warning!(log, "Second", ok = false);
    kolog.flush();
    assert_eq!(sink.events().len(), 2);
    assert!(sink.events()[0].contains("Test message"));
    assert_eq!(sink.records()[0].get("user_id").unwrap(), 7);
    assert_eq!(sink.records()[1].get("level").unwrap(), "WARNING");
    for line in sink.events() {
        println!("captured: {line}");
    }
    kolog.queue_manager().remove_sink("app");
    Ok(())
}
