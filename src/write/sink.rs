//! [`Sink`]: captures a logger's records in memory, for tests.

use std::sync::{Arc, Mutex};

/// A captured record: the structured event as an owned JSON object (`level`, `logger`,
/// `event` and every field), plus its timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// `level`, `logger`, `event` and the fields, as the handler's processors left them.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl SinkRecord {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.fields.get(key)
    }
}

#[derive(Default)]
struct Captured {
    events: Vec<String>,
    records: Vec<SinkRecord>,
}

/// Captures the records of a logger for tests. Attach it with
/// [`QueueManager::add_sink`](crate::QueueManager::add_sink); while attached, the logger's
/// records go to the sink instead of its handlers' destinations. Cheap to clone: clones share
/// what was captured.
#[derive(Clone, Default)]
pub struct Sink {
    inner: Arc<Mutex<Captured>>,
}

impl Sink {
    /// An empty sink.
    pub fn new() -> Sink {
        Sink::default()
    }

    /// Rendered lines, as the logger's first handler renders them (without the trailing
    /// newline).
    pub fn events(&self) -> Vec<String> {
        self.lock().events.clone()
    }

    /// Structured records.
    pub fn records(&self) -> Vec<SinkRecord> {
        self.lock().records.clone()
    }

    /// Forgets everything captured.
    pub fn clear(&self) {
        let mut c = self.lock();
        c.events.clear();
        c.records.clear();
    }

    /// Number of records captured.
    pub fn len(&self) -> usize {
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
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("len", &self.len()).finish()
    }
}
