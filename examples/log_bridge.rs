//! Libraries that log through the `log` facade, routed into kolog:
//! `cargo run --example log_bridge --features log`.

fn main() -> Result<(), kolog::Error> {
    let kolog = kolog::Kolog::default();
    kolog::bridge::log::init(&kolog)?;
    log::info!(user_id = 7, ok = true; "user {} logged in", "alice");
    log::warn!(target: "db::pool", "pool nearly full");
    log::debug!("not shown: root is INFO");
    kolog.shutdown()?;
    Ok(())
}
