//! Configuration: ko-log's schema as typed structs, loaded from JSON or YAML and validated.
//!
//! The typed structs are public so a program can also build its configuration in code.
//! Parsing ([`LoggingSystemConfig::from_json_str`], [`LoggingSystemConfig::from_yaml_str`], ...)
//! rejects unknown fields, types and enum values with an [`Error`] of kind
//! [`ErrorKind::Configuration`](crate::ErrorKind::Configuration) naming the path in the document.

mod parse;
mod unique_keys;

use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, Level};

/// What a producer does when its ring is full; spelled `block`, `drop`, `drop_oldest` in
/// configuration (and by serde).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackpressurePolicy {
    /// Wait for space (sync callers park, async callers return `Pending`). Nothing is lost.
    #[default]
    Block,
    /// Discard the new record and count it.
    Drop,
    /// Discard the oldest unwritten records of the ring to make room, and count them.
    DropOldest,
}

/// Queue settings (`"queue"` in a document).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    /// Each producing thread's ring capacity, in records of typical size (128 bytes): a ring
    /// holds `next_power_of_two(max(max_queue_size * 128, 4096))` bytes.
    pub max_queue_size: usize,
    /// What to do when a ring is full.
    pub backpressure_policy: BackpressurePolicy,
    /// How long `shutdown()` may take to drain what is queued (seconds in config).
    pub drain_timeout: Duration,
}

/// Deserialized like the `"queue"` object of a document, with the same validation (unknown
/// keys, a zero or huge `max_queue_size`, a negative `drain_timeout` are errors).
impl<'de> serde::Deserialize<'de> for QueueConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<QueueConfig, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        parse::queue_from_value(&v).map_err(|e| serde::de::Error::custom(e.msg()))
    }
}

/// Serialized as the `"queue"` object of a document: `drain_timeout` in seconds. Values code
/// may set but a document cannot hold (a `max_queue_size` above 16,777,216, a `drain_timeout`
/// above 10^9 seconds) are written as the largest a document takes, which behave the same
/// (rings are capped well below that size; 10^9 seconds is 31 years), so that what is written
/// always parses back.
impl serde::Serialize for QueueConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("QueueConfig", 3)?;
        st.serialize_field(
            "max_queue_size",
            &self.max_queue_size.min(parse::MAX_QUEUE_SIZE),
        )?;
        st.serialize_field("backpressure_policy", &self.backpressure_policy)?;
        st.serialize_field(
            "drain_timeout",
            &self.drain_timeout.as_secs_f64().min(parse::MAX_SECONDS),
        )?;
        st.end()
    }
}

impl Default for QueueConfig {
    fn default() -> QueueConfig {
        QueueConfig {
            max_queue_size: 10_000,
            backpressure_policy: BackpressurePolicy::Block,
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// The whole logging system: loggers, the default level, and the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggingSystemConfig {
    /// Configured loggers; names are hierarchical (`app.db`).
    pub loggers: Vec<LoggerConfig>,
    /// Level of loggers that do not set their own (default `INFO`).
    pub default_level: Level,
    /// Queue settings, used by one-call setup ([`crate::Kolog`]).
    pub queue: QueueConfig,
}

/// Deserialized like a whole document, with the same validation as
/// [`LoggingSystemConfig::from_json_value`].
impl<'de> serde::Deserialize<'de> for LoggingSystemConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LoggingSystemConfig, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        parse::from_json_value(&v).map_err(|e| serde::de::Error::custom(e.msg()))
    }
}

impl Default for LoggingSystemConfig {
    fn default() -> LoggingSystemConfig {
        LoggingSystemConfig {
            loggers: Vec::new(),
            default_level: Level::Info,
            queue: QueueConfig::default(),
        }
    }
}

/// One configured logger.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggerConfig {
    /// The logger's name (`root`, `app`, `app.db`).
    pub name: String,
    /// Minimum level; `None` uses the system's `default_level`.
    pub level: Option<Level>,
    /// Where its records go.
    pub handlers: Vec<HandlerConfig>,
    /// Context bound to every record of this logger.
    pub context: serde_json::Map<String, serde_json::Value>,
}

/// One handler: a destination, a renderer and a processor chain.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerConfig {
    /// Destination and its parameters (`type` and `params`).
    pub kind: HandlerKind,
    /// How records are formatted.
    pub renderer: RendererConfig,
    /// Processors run, in order, before rendering.
    pub processors: Vec<ProcessorConfig>,
}

/// Handler `type` with its `params`.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerKind {
    /// `file`.
    File(FileParams),
    /// `rotating_file`.
    RotatingFile(RotatingFileParams),
    /// `stream`.
    Stream(StreamParams),
    /// `null`: discards records (a [`crate::Sink`] may still capture them).
    Null,
}

/// `file` handler params.
#[derive(Debug, Clone, PartialEq)]
pub struct FileParams {
    /// Path of the log file; its directory must exist.
    pub filename: PathBuf,
    /// `"a"`/`"ab"` appends (default), `"w"`/`"wb"` truncates at open.
    pub mode: String,
    /// Only `utf-8` is supported.
    pub encoding: String,
    /// Truncate at open whatever `mode` says.
    pub override_existing: bool,
}

impl FileParams {
    /// Params for `filename` with a document's defaults: append (`"a"`), `utf-8`, no
    /// `override_existing`. Set the fields to change them:
    ///
    /// ```
    /// use kolog::config::FileParams;
    /// let p = FileParams { mode: "w".into(), ..FileParams::new("app.log") };
    /// assert!(p.truncates());
    /// ```
    pub fn new(filename: impl Into<PathBuf>) -> FileParams {
        FileParams {
            filename: filename.into(),
            mode: "a".into(),
            encoding: "utf-8".into(),
            override_existing: false,
        }
    }

    /// Whether the file is truncated when opened.
    pub fn truncates(&self) -> bool {
        self.override_existing || self.mode.starts_with('w')
    }
}

/// `rotating_file` handler params.
#[derive(Debug, Clone, PartialEq)]
pub struct RotatingFileParams {
    /// Path of the active log file.
    pub filename: PathBuf,
    /// Rotate before a record would take the file past this size; 0 disables size rotation.
    pub max_bytes: u64,
    /// How many rotated files to keep (`app.log.1` ... `app.log.N`).
    pub backup_count: u32,
    /// Rotate every this many seconds; `None` disables time rotation.
    pub rotation_interval: Option<Duration>,
    /// `"a"` (default) or `"w"`, as for `file`.
    pub mode: String,
    /// Only `utf-8` is supported.
    pub encoding: String,
}

impl RotatingFileParams {
    /// Params for `filename` with a document's defaults: no rotation (`max_bytes` 0,
    /// `backup_count` 0, no `rotation_interval`), append, `utf-8`. Set the fields to rotate:
    ///
    /// ```
    /// use kolog::config::RotatingFileParams;
    /// let p = RotatingFileParams {
    ///     max_bytes: 10 << 20,
    ///     backup_count: 5,
    ///     ..RotatingFileParams::new("app.log")
    /// };
    /// assert_eq!(p.mode, "a");
    /// ```
    pub fn new(filename: impl Into<PathBuf>) -> RotatingFileParams {
        RotatingFileParams {
            filename: filename.into(),
            max_bytes: 0,
            backup_count: 0,
            rotation_interval: None,
            mode: "a".into(),
            encoding: "utf-8".into(),
        }
    }
}

/// `stream` handler params.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamParams {
    /// Write to stderr instead of stdout.
    pub use_stderr: bool,
}

/// Renderer `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RendererKind {
    /// `stream_plain`.
    StreamPlain,
    /// `stream_colored`: plain with ANSI colours by level when the stream is a terminal.
    StreamColored,
    /// `stream_json`.
    StreamJson,
    /// `file_plain`.
    FilePlain,
    /// `file_json`.
    FileJson,
}

/// Renderer `type` and `params`.
#[derive(Debug, Clone, PartialEq)]
pub struct RendererConfig {
    /// Which renderer.
    pub kind: RendererKind,
    /// Percent-style format (plain renderers); default
    /// `[%(asctime)s] [%(level)-8s] [%(name)s]: %(event)s`.
    pub fmt: Option<String>,
    /// strftime-style date format for `%(asctime)s`; default `%Y-%m-%d %H:%M:%S`.
    pub datefmt: Option<String>,
    /// JSON indentation; `None` writes one object per line.
    pub indentation: Option<usize>,
    /// Format dates in UTC (default) or, when false, in local time.
    pub utc: bool,
}

impl RendererConfig {
    /// A renderer of this kind with default params.
    pub fn new(kind: RendererKind) -> RendererConfig {
        RendererConfig {
            kind,
            fmt: None,
            datefmt: None,
            indentation: None,
            utc: true,
        }
    }
}

/// Processor `type` with its `params`.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessorConfig {
    /// Adds callsite parameters (`filename`, `lineno`, `funcName`, `module`, `pathname`).
    AddCallsiteParams {
        /// Which parameters; default all five.
        parameters: Vec<CallsiteParam>,
    },
    /// Adds default key/values where the event lacks them.
    AddContextDefaults {
        /// The defaults.
        defaults: serde_json::Map<String, serde_json::Value>,
    },
    /// Turns `error = &e` fields into structured `exception` objects.
    DictTracebacks,
    /// Drops records below `min_level`.
    FilterByLevel {
        /// Minimum level kept.
        min_level: Level,
    },
    /// Removes the named keys.
    FilterKeys {
        /// Keys to remove.
        keys: Vec<String>,
    },
    /// Strips Rich-style markup (`[bold red]...[/]`) from the event and string fields.
    FilterMarkup,
    /// A processor registered in code with [`crate::register_processor`].
    Custom {
        /// The registered name.
        name: String,
        /// Its params, passed to its factory.
        params: serde_json::Value,
    },
}

/// A parameter of `add_callsite_params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallsiteParam {
    /// `filename`: file name without directories.
    Filename,
    /// `lineno`: line number.
    Lineno,
    /// `funcName`: the function the statement is in (for a closure or `async` block, the
    /// function it is in); the module's last segment for records of the bridges.
    FuncName,
    /// `module`: the module path.
    Module,
    /// `pathname`: the file path as `file!()` gives it.
    Pathname,
}

impl CallsiteParam {
    /// All five, in ko-log's order.
    pub const ALL: [CallsiteParam; 5] = [
        CallsiteParam::Filename,
        CallsiteParam::Lineno,
        CallsiteParam::FuncName,
        CallsiteParam::Module,
        CallsiteParam::Pathname,
    ];

    /// The key it adds.
    pub fn key(self) -> &'static str {
        match self {
            CallsiteParam::Filename => "filename",
            CallsiteParam::Lineno => "lineno",
            CallsiteParam::FuncName => "funcName",
            CallsiteParam::Module => "module",
            CallsiteParam::Pathname => "pathname",
        }
    }
}

impl LoggingSystemConfig {
    /// Parses and validates a JSON document.
    pub fn from_json_str(s: &str) -> Result<LoggingSystemConfig, Error> {
        parse::from_json_str(s)
    }

    /// Parses and validates a YAML document.
    pub fn from_yaml_str(s: &str) -> Result<LoggingSystemConfig, Error> {
        parse::from_yaml_str(s)
    }

    /// Validates an already-parsed JSON value.
    pub fn from_json_value(v: &serde_json::Value) -> Result<LoggingSystemConfig, Error> {
        parse::from_json_value(v)
    }

    /// Reads a file, JSON or YAML by extension (`.json`, `.yaml`, `.yml`).
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<LoggingSystemConfig, Error> {
        parse::from_path(path.as_ref())
    }

    /// The configuration of `Kolog::default()`: one logger `root` at INFO writing plain text to
    /// stderr, coloured when stderr is a terminal.
    pub fn embedded_default() -> LoggingSystemConfig {
        LoggingSystemConfig {
            loggers: vec![LoggerConfig {
                name: "root".into(),
                level: Some(Level::Info),
                handlers: vec![HandlerConfig {
                    kind: HandlerKind::Stream(StreamParams { use_stderr: true }),
                    renderer: RendererConfig::new(RendererKind::StreamColored),
                    processors: Vec::new(),
                }],
                context: serde_json::Map::new(),
            }],
            default_level: Level::Info,
            queue: QueueConfig::default(),
        }
    }
}
