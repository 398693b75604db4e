//! What a record is: its static [`Callsite`], its encoded form in a ring (`encode`,
//! `decode`) and the [`EventDict`] view that processors and renderers work on.
//!
//! An `EventDict` borrows everything it can — the message and field names from the static
//! callsite, string values straight from the ring, bound context from the logger — so building
//! one for a record allocates nothing in the common case.

pub(crate) mod decode;
pub(crate) mod encode;

use std::borrow::Cow;
use std::fmt;

use smallvec::SmallVec;

use crate::Level;

/// Static metadata of one logging statement, made by the logging macros.
#[derive(Debug)]
pub struct Callsite {
    /// The message (`event`).
    pub message: &'static str,
    /// The field names, in the order the values are encoded.
    pub fields: &'static [&'static str],
    /// `file!()` of the statement.
    pub file: &'static str,
    /// `line!()` of the statement.
    pub line: u32,
    /// `module_path!()` of the statement.
    pub module_path: &'static str,
    /// What kind of statement made it.
    pub kind: CallsiteKind,
    /// Names the function the statement is in (the macros make it: the path of an item they
    /// declare there); `None` where there is none to name (the bridges, kolog's own records).
    pub function: Option<fn() -> &'static str>,
}

/// What kind of statement a [`Callsite`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallsiteKind {
    /// An ordinary logging statement.
    Event,
    /// The end of a lifecycle (`info_life!`): the first value is the elapsed seconds and the
    /// event reads `End (<seconds>): <message>`.
    LifeEnd,
    /// The start of a lifecycle with a run-time name (`ainfo_life`): the first value is the
    /// name and the event reads `Begin: <name>`.
    NamedBegin,
    /// A record with a run-time message, location and field names (the `log` and `tracing`
    /// bridges): values are the message, file, line and module path, then key/value pairs.
    Dynamic,
    /// The end of such a lifecycle: the values are the name and the elapsed seconds.
    NamedEnd,
}

impl Callsite {
    /// The file name without directories (`main.rs`), ko-log's `filename`.
    pub fn filename(&self) -> &'static str {
        file_name(self.file)
    }

    /// The last segment of the module path.
    pub fn module(&self) -> &'static str {
        last_segment(self.module_path)
    }

    /// ko-log's `funcName`: the name of the function the statement is in (the function a
    /// closure or `async` block is in); `None` where the callsite does not know it.
    pub fn function_name(&self) -> Option<&'static str> {
        self.function.map(|f| function_of(f()))
    }
}

/// The function's name from the path of the item a macro declares in it
/// (`app::handle::__KOLOG_CALLSITE::__kolog_fn::here`, with `::{{closure}}` for closures and
/// `async` blocks): the last segment before the static that holds the callsite.
fn function_of(item_path: &'static str) -> &'static str {
    let mut rest = item_path;
    // The helper function and its item, then the static.
    for _ in 0..3 {
        rest = rest.rsplit_once("::").map_or(rest, |(head, _)| head);
    }
    while let Some(head) = rest.strip_suffix("::{{closure}}") {
        rest = head;
    }
    last_segment(rest)
}

/// The file name of a path, without directories.
pub fn file_name(path: &str) -> &str {
    match path.rfind(['/', '\\']) {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The last `::` segment of a module path.
pub fn last_segment(module_path: &str) -> &str {
    match module_path.rfind("::") {
        Some(i) => &module_path[i + 2..],
        None => module_path,
    }
}

/// Where a record was made: the static callsite's location, or for records bridged from
/// `log`/`tracing`, the location they carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source<'a> {
    /// The source file path.
    pub file: &'a str,
    /// The line.
    pub line: u32,
    /// The module path.
    pub module_path: &'a str,
}

/// A field value as processors and renderers see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// A string borrowed from the record, the callsite or the configuration.
    Str(&'a str),
    /// A string made by a processor.
    String(String),
    /// A JSON value from the configuration or bound context. The JSON renderer writes
    /// numbers and bools as they are and arrays, objects and null as strings of their JSON
    /// text (a line is one flat object); the plain renderer writes the JSON text, quoted as a
    /// string is when it has spaces, `=` or quotes.
    Json(Cow<'a, serde_json::Value>),
    /// An error logged with `error = &e`: its message and source chain. Renders as its message
    /// unless `dict_tracebacks` turns it into an [`Value::Exception`].
    Error(ErrorValue<'a>),
    /// A structured exception object (`type`, `message`, `chain`, `backtrace`).
    Exception(ErrorValue<'a>),
}

impl Value<'_> {
    /// The value as a string slice, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::String(s) => Some(s),
            Value::Json(v) => v.as_str(),
            _ => None,
        }
    }

    /// Converts the value to an owned JSON value (used by [`crate::Sink`] records).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::I64(v) => J::from(*v),
            Value::U64(v) => J::from(*v),
            Value::F64(v) => serde_json::Number::from_f64(*v)
                .map(J::Number)
                .unwrap_or_else(|| J::String(float_to_string(*v))),
            Value::Bool(v) => J::Bool(*v),
            Value::Str(s) => J::String((*s).to_owned()),
            Value::String(s) => J::String(s.clone()),
            Value::Json(v) => v.as_ref().clone(),
            Value::Error(e) => J::String(e.message.to_owned()),
            Value::Exception(e) => e.to_json(),
        }
    }
}

/// A bound-context JSON value as an event value (scalars unwrapped, so renderers treat them
/// like record fields).
pub(crate) fn context_value(v: &serde_json::Value) -> Value<'_> {
    match v {
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::U64(u)
            } else if let Some(i) = n.as_i64() {
                Value::I64(i)
            } else {
                Value::F64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        other => Value::Json(Cow::Borrowed(other)),
    }
}

/// The `f64` that renders as `x` does on its own: `x`'s shortest round-trip digits (ryu's
/// `f32` form) read back as an `f64`, so `0.1f32` renders as `0.1`, not as the widened
/// `0.10000000149011612`. For every finite `f32` the shortest digits of this `f64` are those
/// same digits (checked for all 2^32 bit patterns); the renderers write them in ryu's `f64`
/// notation, as for any float. Non-finite values widen as they are. Runs on the drainer
/// (decoding) and for bound context, never when logging.
pub(crate) fn f32_as_f64(x: f32) -> f64 {
    if !x.is_finite() {
        return f64::from(x);
    }
    ryu::Buffer::new()
        .format_finite(x)
        .parse()
        .unwrap_or(f64::from(x))
}

/// A non-finite float as text (`NaN`, `inf`, `-inf`); finite floats use ryu.
pub(crate) fn float_to_string(v: f64) -> String {
    if v.is_finite() {
        let mut b = ryu::Buffer::new();
        b.format_finite(v).to_owned()
    } else {
        v.to_string()
    }
}

/// An error value: its type name, its `Display` message, and the messages of its source chain.
#[derive(Clone, PartialEq)]
pub struct ErrorValue<'a> {
    /// `std::any::type_name` of the logged error.
    pub type_name: &'a str,
    /// The error's `Display` output.
    pub message: &'a str,
    /// The source chain, encoded: each entry a little-endian `u32` length then UTF-8 bytes.
    pub(crate) chain: &'a [u8],
}

impl<'a> ErrorValue<'a> {
    /// An error value from its parts and an already-encoded chain (see [`encode::chain_entry`]).
    pub(crate) fn new(type_name: &'a str, message: &'a str, chain: &'a [u8]) -> ErrorValue<'a> {
        ErrorValue {
            type_name,
            message,
            chain,
        }
    }

    /// The messages of `source()`, `source().source()`, ... in order.
    pub fn chain(&self) -> impl Iterator<Item = &'a str> + 'a {
        decode::ChainIter::new(self.chain)
    }

    /// The structured exception object that `dict_tracebacks` renders.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": self.type_name,
            "message": self.message,
            "chain": self.chain().collect::<Vec<_>>(),
        })
    }
}

impl fmt::Debug for ErrorValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorValue")
            .field("type_name", &self.type_name)
            .field("message", &self.message)
            .field("chain", &self.chain().collect::<Vec<_>>())
            .finish()
    }
}

/// One key/value pair of an [`EventDict`].
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    /// The key.
    pub key: Cow<'a, str>,
    /// The value.
    pub value: Value<'a>,
}

/// The structured event that processors transform and renderers format (structlog's
/// `event_dict`): fixed parts (timestamp, level, logger, event, callsite) and an ordered list of
/// fields — bound context first, then the record's fields, then what processors added.
#[derive(Debug, Clone)]
pub struct EventDict<'a> {
    /// Wall-clock time of the record, nanoseconds since the Unix epoch (UTC).
    pub timestamp_ns: u64,
    /// The record's level.
    pub level: Level,
    /// The name of the logger that made the record (`app.db`).
    pub logger: &'a str,
    /// The message.
    pub event: Cow<'a, str>,
    /// The logging statement's static metadata.
    pub callsite: &'a Callsite,
    /// Where the record was made (the callsite's location unless bridged).
    pub source: Source<'a>,
    fields: SmallVec<[Field<'a>; 12]>,
}

impl<'a> EventDict<'a> {
    /// An event with no fields.
    pub fn new(
        timestamp_ns: u64,
        level: Level,
        logger: &'a str,
        callsite: &'a Callsite,
    ) -> EventDict<'a> {
        EventDict {
            timestamp_ns,
            level,
            logger,
            event: Cow::Borrowed(callsite.message),
            callsite,
            source: Source {
                file: callsite.file,
                line: callsite.line,
                module_path: callsite.module_path,
            },
            fields: SmallVec::new(),
        }
    }

    /// The fields in order.
    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.fields.iter().find(|f| f.key == key).map(|f| &f.value)
    }

    /// Sets `key` to `value`: replaces the value in place if the key exists, else appends.
    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Value<'a>) {
        let key = key.into();
        match self.fields.iter_mut().find(|f| f.key == key) {
            Some(f) => f.value = value,
            None => self.fields.push(Field { key, value }),
        }
    }

    /// Appends a field without looking for an existing one with the same key (the drainer
    /// uses it for a record's own fields when the logger has no bound context).
    #[inline]
    pub(crate) fn push(&mut self, key: &'a str, value: Value<'a>) {
        self.fields.push(Field {
            key: Cow::Borrowed(key),
            value,
        });
    }

    /// Sets `key` to `value` only if the key is absent.
    pub fn insert_default(&mut self, key: impl Into<Cow<'a, str>>, value: Value<'a>) {
        let key = key.into();
        if !self.fields.iter().any(|f| f.key == key) {
            self.fields.push(Field { key, value });
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        let i = self.fields.iter().position(|f| f.key == key)?;
        Some(self.fields.remove(i).value)
    }

    /// Keeps only the fields for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Field<'a>) -> bool) {
        self.fields.retain(|f| keep(f));
    }

    /// Mutable access to the values, in order (keys stay fixed).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value<'a>> {
        self.fields.iter_mut().map(|f| &mut f.value)
    }

    /// The whole event as an owned JSON object (`timestamp` omitted), as [`crate::Sink`]
    /// records keep it: `level`, `logger`, `event`, then the fields (one named like those
    /// three as `fields.<key>`, with `fields.` prefixed again while another field has that
    /// name, as in JSON lines).
    pub fn to_json_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("level".into(), self.level.as_str().into());
        m.insert("logger".into(), self.logger.into());
        m.insert("event".into(), self.event.as_ref().into());
        for f in &self.fields {
            // A field named like one of the record's own keys is kept beside it, named as the
            // JSON renderer names it.
            let key = match &*f.key {
                k @ ("level" | "logger" | "event") => {
                    shadowed_key(k, self.fields.iter().map(|f| f.key.as_ref()))
                }
                k => k.to_owned(),
            };
            m.insert(key, f.value.to_json());
        }
        m
    }
}

/// The name a field named like one of a record's fixed keys (`level`) is written under:
/// `fields.<key>`, or, while another of the record's `keys` has that name, with `fields.`
/// prefixed again (`fields.fields.level`). Other keys are never renamed, and distinct fixed
/// keys get distinct names, so every key of a record stays unique. Linear in the number of
/// keys; the renderers call it only for a key that is renamed.
#[cold]
pub(crate) fn shadowed_key<'k>(key: &str, keys: impl Iterator<Item = &'k str>) -> String {
    const PREFIX: &str = "fields.";
    // How many times `fields.` precedes `key` in the other keys that are `key` so prefixed.
    let mut taken: SmallVec<[usize; 4]> = SmallVec::new();
    for k in keys {
        let mut rest = k;
        let mut depth = 0;
        while let Some(r) = rest.strip_prefix(PREFIX) {
            rest = r;
            depth += 1;
            if rest == key {
                taken.push(depth);
                break;
            }
        }
    }
    taken.sort_unstable();
    let mut depth = 1;
    for t in taken {
        if t == depth {
            depth += 1;
        } else if t > depth {
            break;
        }
    }
    let mut name = String::with_capacity(PREFIX.len() * depth + key.len());
    for _ in 0..depth {
        name.push_str(PREFIX);
    }
    name.push_str(key);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    static CS: Callsite = Callsite {
        message: "hello",
        fields: &[],
        file: "src/app/main.rs",
        line: 7,
        module_path: "app::main",
        kind: CallsiteKind::Event,
        function: None,
    };

    #[test]
    fn insert_replaces_in_place_and_defaults_do_not_override() {
        let mut ev = EventDict::new(0, Level::Info, "app", &CS);
        ev.insert("a", Value::I64(1));
        ev.insert("b", Value::Bool(true));
        ev.insert("a", Value::I64(2));
        ev.insert_default("b", Value::Bool(false));
        ev.insert_default("c", Value::Str("x"));
        let keys: Vec<_> = ev.fields().iter().map(|f| f.key.as_ref()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(ev.get("a"), Some(&Value::I64(2)));
        assert_eq!(ev.get("b"), Some(&Value::Bool(true)));
        assert_eq!(ev.remove("a"), Some(Value::I64(2)));
        assert_eq!(ev.fields().len(), 2);
    }

    #[test]
    fn callsite_names() {
        assert_eq!(CS.filename(), "main.rs");
        assert_eq!(CS.module(), "main");
    }
}
