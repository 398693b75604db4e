//! [`Sink`]: captures a logger's records in memory, for tests.

use std::sync::{Arc, Mutex, Weak};

use crate::drain::shared::Shared;

/// A captured record: the structured event as an owned JSON object (`level`, `logger`,
/// `event` and every field), plus its timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// `level`, `logger`, `event` and the fields, as the handler's processors left them (a
    /// field named `level`, `logger` or `event` is `fields.<key>`, with `fields.` prefixed again
    /// while another field has that name, as in JSON lines).
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl SinkRecord {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.fields.get(key)
    }
}

/// `record["key"]`, as on a `serde_json::Value`: the value of `key`, or `null` when the record
/// has no such key.
///
/// ```
/// use kolog::{info, Kolog, Sink};
/// let kolog = Kolog::from_json_str(r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#).unwrap();
/// let sink = Sink::new();
/// kolog.queue_manager().add_sink("root", sink.clone());
/// info!(kolog.logger("root").unwrap(), "hello", user_id = 123);
/// let records = sink.records();
/// assert_eq!(records[0]["event"], "hello");
/// assert_eq!(records[0]["user_id"], 123);
/// assert!(records[0]["absent"].is_null());
/// ```
impl std::ops::Index<&str> for SinkRecord {
    type Output = serde_json::Value;

    fn index(&self, key: &str) -> &serde_json::Value {
        static NULL: serde_json::Value = serde_json::Value::Null;
        self.fields.get(key).unwrap_or(&NULL)
    }
}

#[derive(Default)]
struct Captured {
    events: Vec<String>,
    records: Vec<SinkRecord>,
}

#[derive(Default)]
struct Inner {
    captured: Mutex<Captured>,
    /// The queue managers it was attached to: reading waits for what they have queued.
    attached: Mutex<Vec<Weak<Shared>>>,
}

/// Captures the records of a logger for tests. Attach it with
/// [`QueueManager::add_sink`](crate::QueueManager::add_sink); while attached, the logger's
/// records go to the sink instead of its handlers' destinations. Cheap to clone: clones share
/// what was captured.
///
/// Reading it ([`events`](Sink::events), [`records`](Sink::records), [`len`](Sink::len)) or
/// clearing it first waits until the records logged before the call have reached it, as
/// [`QueueManager::flush`](crate::QueueManager::flush) does: a test can log and assert at
/// once, as ko-log's own tests do.
#[derive(Clone, Default)]
pub struct Sink {
    inner: Arc<Inner>,
}

impl Sink {
    /// An empty sink.
    pub fn new() -> Sink {
        Sink::default()
    }

    /// Rendered lines, as the logger's first handler renders them (without the trailing
    /// newline); for a logger with no handlers, in `stream_plain`'s default format.
    pub fn events(&self) -> Vec<String> {
        self.settle();
        self.lock().events.clone()
    }

    /// Structured records.
    pub fn records(&self) -> Vec<SinkRecord> {
        self.settle();
        self.lock().records.clone()
    }

    /// Forgets everything captured.
    pub fn clear(&self) {
        self.settle();
        let mut c = self.lock();
        c.events.clear();
        c.records.clear();
    }

    /// Number of records captured.
    pub fn len(&self) -> usize {
        self.settle();
        self.lock().records.len()
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn push(&self, rendered: &[u8], record: SinkRecord) {
        let line = String::from_utf8_lossy(rendered.strip_suffix(b"\n").unwrap_or(rendered));
        let mut c = self.lock();
        c.events.push(line.into_owned());
        c.records.push(record);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Captured> {
        self.inner
            .captured
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Records that it is attached to the queue manager of `shared`.
    pub(crate) fn attach(&self, shared: &Arc<Shared>) {
        let mut attached = self
            .inner
            .attached
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let weak = Arc::downgrade(shared);
        attached.retain(|w| w.strong_count() > 0 && !w.ptr_eq(&weak));
        attached.push(weak);
    }

    /// Waits until what the queue managers it is attached to have queued is delivered (as
    /// their `flush()`, which returns at once on a drainer thread).
    fn settle(&self) {
        let attached: Vec<Arc<Shared>> = self
            .inner
            .attached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for shared in attached {
            shared.flush();
        }
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("len", &self.len()).finish()
    }
}
