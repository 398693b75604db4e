//! The seed's Quick Start in kolog: configure a queue and a logger, log sync and async, bind
//! context, time a lifecycle, shut down.
//!
//! `cargo run --release --example quickstart` (uses the embedded default when no argument is
//! given; pass `--config` to build the seed's explicit configuration instead).

use std::time::Duration;

use kolog::config::{
    HandlerConfig, HandlerKind, LoggerConfig, RendererConfig, RendererKind, StreamParams,
};
use kolog::{
    ainfo, bind, info, info_life, warning, BackpressurePolicy, Kolog, Level, LoggerFactory,
    LoggingSystemConfig, QueueConfig, QueueManager,
};

fn main() -> Result<(), kolog::Error> {
    if std::env::args().any(|a| a == "--config") {
        return explicit();
    }
    // One call: the embedded default (root logger, INFO, plain text to stderr).
    let kolog = Kolog::default();
    let logger = kolog.logger("app")?;
    run(&logger);
    let report = kolog.shutdown()?;
    eprintln!(
        "written {} records, dropped {}",
        report.written, report.dropped
    );
    Ok(())
}

/// The seed's two-step form: a queue manager, then a factory from a typed configuration.
fn explicit() -> Result<(), kolog::Error> {
    // 1. Configure the queue manager.
    let queue_manager = QueueManager::start(QueueConfig {
        max_queue_size: 10_000,
        backpressure_policy: BackpressurePolicy::Block,
        drain_timeout: Duration::from_secs(5),
    })?;

    // 2. Configure the logging system.
    let mut renderer = RendererConfig::new(RendererKind::StreamPlain);
    renderer.fmt = Some("[%(asctime)s] [%(level)-8s] [%(name)s]: %(event)s".into());
    renderer.datefmt = Some("%Y-%m-%d %H:%M:%S".into());
    let system_config = LoggingSystemConfig {
        loggers: vec![LoggerConfig {
            name: "app".into(),
            level: Some(Level::Info),
            handlers: vec![HandlerConfig {
                kind: HandlerKind::Stream(StreamParams { use_stderr: false }),
                renderer,
                processors: vec![],
            }],
            context: Default::default(),
        }],
        ..LoggingSystemConfig::default()
    };

    // 3. Create the logger factory, 4. get a logger and use it.
    let factory = LoggerFactory::new(system_config, &queue_manager)?;
    let logger = factory.get_logger("app")?;
    run(&logger);

    // 5. Cleanup.
    queue_manager.shutdown()?;
    Ok(())
}

fn run(logger: &kolog::Logger) {
    // Synchronous logging.
    info!(logger, "Application started", version = "1.0.0");

    // Asynchronous logging, on any executor (here a small tokio runtime).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    rt.block_on(async {
        ainfo!(logger, "Processing request", user_id = 123).await;
    });

    // Context binding.
    let bound_logger = bind!(logger, service = "auth", env = "prod");
    warning!(bound_logger, "Rate limit exceeded", ip = "192.168.1.1");

    // Lifecycle tracking, sync and async.
    {
        let _life = info_life!(logger, "Database query", table = "users");
        std::thread::sleep(Duration::from_millis(150));
    }
    rt.block_on(logger.ainfo_life("Database migration", async {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }));
}
