//! The one public error type, [`Error`], and its [`ErrorKind`].
//!
//! Every error carries a machine-readable code in ko-log's format
//! `LAYER::Service::CATEGORY::SEVERITY[::RECOVERABLE]`, a human-readable message, and the
//! error that caused it (if any) through [`std::error::Error::source`].

use std::fmt;

/// What part of kolog an [`Error`] comes from; mirrors ko-log's exception classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A configuration document or value is invalid (ko-log's `AlConfigurationError`).
    Configuration,
    /// A logger could not be created from a valid configuration.
    LoggerCreation,
    /// A run-time logging operation failed.
    Logger,
    /// A handler could not open or write its destination.
    Handler,
    /// A processor could not be built or failed while running.
    Processor,
    /// The queue manager could not start, route, or shut down.
    QueueManager,
}

/// How serious an [`Error`] is; the `SEVERITY` part of [`Error::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Something degraded but kolog carries on.
    Warning,
    /// The operation failed.
    Error,
    /// kolog cannot go on.
    Critical,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// kolog's error: a kind, a structured code, a message and an optional source.
///
/// ```
/// let err = kolog::Kolog::from_json_str("{ not json").unwrap_err();
/// assert_eq!(err.kind(), kolog::ErrorKind::Configuration);
/// assert!(err.code().starts_with("CONFIGURATION::"));
/// ```
pub struct Error {
    kind: ErrorKind,
    layer: &'static str,
    service: &'static str,
    category: &'static str,
    severity: Severity,
    recoverable: bool,
    msg: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error. `layer`, `service` and `category` are the first three parts of the code,
    /// e.g. `("CONFIGURATION", "LoggerFactory", "VALIDATION")`. Severity defaults to `ERROR`.
    pub fn new(
        kind: ErrorKind,
        layer: &'static str,
        service: &'static str,
        category: &'static str,
        msg: impl Into<String>,
    ) -> Error {
        Error {
            kind,
            layer,
            service,
            category,
            severity: Severity::Error,
            recoverable: false,
            msg: msg.into(),
            source: None,
        }
    }

    /// A configuration validation error (`CONFIGURATION::<service>::VALIDATION::ERROR`).
    pub fn configuration(service: &'static str, msg: impl Into<String>) -> Error {
        Error::new(
            ErrorKind::Configuration,
            "CONFIGURATION",
            service,
            "VALIDATION",
            msg,
        )
    }

    /// Sets the severity.
    pub fn with_severity(mut self, severity: Severity) -> Error {
        self.severity = severity;
        self
    }

    /// Marks the error as recoverable (the operation may be retried).
    pub fn recoverable_if(mut self, recoverable: bool) -> Error {
        self.recoverable = recoverable;
        self
    }

    /// Attaches the underlying cause, returned by [`std::error::Error::source`].
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        self.source = Some(source.into());
        self
    }

    /// What part of kolog the error comes from.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The machine-readable code, `LAYER::Service::CATEGORY::SEVERITY[::RECOVERABLE]`.
    pub fn code(&self) -> String {
        let mut code = format!(
            "{}::{}::{}::{}",
            self.layer,
            self.service,
            self.category,
            self.severity.as_str()
        );
        if self.recoverable {
            code.push_str("::RECOVERABLE");
        }
        code
    }

    /// The human-readable message.
    pub fn msg(&self) -> &str {
        &self.msg
    }

    /// Whether retrying the operation may succeed.
    pub fn recoverable(&self) -> bool {
        self.recoverable
    }

    /// How serious the error is.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// The error that caused this one, if any: the same as [`std::error::Error::source`],
    /// callable without importing the trait.
    ///
    /// ```
    /// let err = kolog::Kolog::from_path("/nonexistent/kolog.json").unwrap_err();
    /// assert!(err.source().unwrap().is::<std::io::Error>());
    /// ```
    pub fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind)
            .field("code", &self.code())
            .field("msg", &self.msg);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.msg, self.code())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Error::source(self)
    }
}

/// Writes one line of kolog's own reports (failed writes, drops, a crashed drainer) to stderr.
/// Unlike `eprintln!`, which panics when stderr fails (a pipe whose reader is gone), a failed
/// write is ignored: the report is lost, never the thread making it (the drainer, an I/O
/// thread, a producer).
pub(crate) fn report(args: fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{args}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_has_seed_format() {
        let e = Error::configuration("LoggerFactory", "Logger `x` not found");
        assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
        let e = Error::new(
            ErrorKind::Handler,
            "HANDLER",
            "FileHandler",
            "IO",
            "disk full",
        )
        .recoverable_if(true);
        assert_eq!(e.code(), "HANDLER::FileHandler::IO::ERROR::RECOVERABLE");
        assert!(e.recoverable());
        assert_eq!(e.msg(), "disk full");
    }

    #[test]
    fn source_is_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = Error::new(
            ErrorKind::Handler,
            "HANDLER",
            "FileHandler",
            "IO",
            "open failed",
        )
        .with_source(io);
        let src = std::error::Error::source(&e).unwrap();
        assert_eq!(src.to_string(), "denied");
    }
}
