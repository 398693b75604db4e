//! A tokio service logging with `ainfo!` and `bind!`: `cargo run --example async_service`.
//! Logging never blocks the executor: when a ring is full the future waits through its waker.

use std::time::Duration;

use kolog::{ainfo, awarning, bind, Kolog};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), kolog::Error> {
    let kolog = Kolog::from_json_str(
        r#"{"queue": {"max_queue_size": 1000, "backpressure_policy": "block"},
            "loggers": [{"name": "root", "level": "INFO",
                         "handlers": [{"type": "stream", "params": {"use_stderr": true},
                                       "renderer": {"type": "stream_json"}}]}]}"#,
    )?;
    let log = kolog.logger("service")?;
    let mut tasks = Vec::new();
    for id in 0..4u64 {
        let req = bind!(log, request_id = id, route = "/users");
        tasks.push(tokio::spawn(async move {
            ainfo!(req, "request received").await;
            let out = req
                .ainfo_life("database query", async {
                    tokio::time::sleep(Duration::from_millis(20 * id)).await;
                    id * 10
                })
                .await;
            if out > 20 {
                awarning!(req, "large result", rows = out).await;
            }
            ainfo!(req, "request done", rows = out).await;
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let report = kolog.shutdown()?;
    eprintln!("written {} records", report.written);
    Ok(())
}
