//! Bad input gives an `Error` with the right kind and a message naming the problem; nothing
//! panics.
mod common;

use kolog::config::{FileParams, HandlerKind, RendererKind};
use kolog::{ErrorKind, Kolog, Level, QueueConfig};

fn file_system(path: std::path::PathBuf) -> kolog::LoggingSystemConfig {
    common::system(
        vec![common::logger(
            "root",
            Some(Level::Info),
            HandlerKind::File(FileParams {
                filename: path,
                mode: "a".into(),
                encoding: "utf-8".into(),
                override_existing: false,
            }),
            RendererKind::FilePlain,
        )],
        QueueConfig::default(),
    )
}

/// A handler that cannot be built fails the logger's creation; the handler error is the
/// cause.
fn handler_cause(err: &kolog::Error) -> &kolog::Error {
    assert_eq!(err.kind(), ErrorKind::LoggerCreation, "{err:?}");
    assert_eq!(err.msg(), "Failed to create logger `root`");
    std::error::Error::source(err)
        .and_then(|c| c.downcast_ref::<kolog::Error>())
        .expect("the handler error is the cause")
}

#[test]
fn a_file_in_a_missing_directory_is_a_handler_error() {
    let err =
        Kolog::from_config(file_system("/nonexistent-kolog-dir/sub/app.log".into())).unwrap_err();
    let err = handler_cause(&err);
    assert_eq!(err.kind(), ErrorKind::Handler);
    assert_eq!(err.code(), "HANDLER::FileHandler::IO::ERROR");
    assert!(
        err.msg().contains("/nonexistent-kolog-dir/sub/app.log"),
        "{}",
        err.msg()
    );
}

#[test]
fn a_file_under_a_regular_file_is_a_handler_error() {
    let dir = common::temp_dir("under-file");
    let blocker = dir.join("plain.txt");
    std::fs::write(&blocker, b"x").unwrap();
    let err = Kolog::from_config(file_system(blocker.join("app.log"))).unwrap_err();
    let err = handler_cause(&err);
    assert_eq!(err.kind(), ErrorKind::Handler);
    assert!(err.msg().contains("not a directory"), "{}", err.msg());
    let err = Kolog::from_config(file_system(dir.clone())).unwrap_err();
    let err = handler_cause(&err);
    assert!(err.msg().contains("is a directory"), "{}", err.msg());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_file_is_opened_lazily_and_appended_or_truncated_per_mode() {
    let dir = common::temp_dir("lazy");
    let path = dir.join("app.log");
    let k = Kolog::from_config(file_system(path.clone())).unwrap();
    assert!(!path.exists(), "opened lazily, on the first write");
    let log = k.logger("app").unwrap();
    kolog::info!(log, "one");
    k.shutdown().unwrap();
    let k = Kolog::from_config(file_system(path.clone())).unwrap();
    kolog::info!(k.logger("app").unwrap(), "two");
    k.shutdown().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2, "mode a appends: {text}");
    let mut config = file_system(path.clone());
    if let HandlerKind::File(p) = &mut config.loggers[0].handlers[0].kind {
        p.mode = "w".into();
    }
    let k = Kolog::from_config(config).unwrap();
    kolog::info!(k.logger("app").unwrap(), "three");
    k.shutdown().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1, "mode w truncates: {text}");
    assert!(text.ends_with("[app]: three\n"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn malformed_documents_are_configuration_errors() {
    for doc in ["{ not json", "", "[]", "{\"loggers\": 5}"] {
        let err = Kolog::from_json_str(doc).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration, "{doc}: {err}");
        assert!(err.code().starts_with("CONFIGURATION::"), "{}", err.code());
    }
}

#[test]
fn a_zero_queue_size_is_a_configuration_error() {
    let err = kolog::QueueManager::start(QueueConfig {
        max_queue_size: 0,
        ..QueueConfig::default()
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.msg().contains("max_queue_size"));
}

#[test]
fn shutdown_twice_is_a_queue_manager_error() {
    let k = Kolog::default();
    k.shutdown().unwrap();
    let err = k.shutdown().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueueManager);
    assert_eq!(err.code(), "QUEUE::QueueManager::LIFECYCLE::WARNING");
}
