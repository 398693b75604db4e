//! The logging macros. A statement expands to a static [`Callsite`](crate::record::Callsite),
//! one level check (a compare with the level copied into the `Logger` handle), and — only when
//! enabled — an array of captured values handed to the encoder.

/// Logs at a level given as an expression: `log!(logger, Level::Info, "msg", k = v)`.
///
/// Fields: `k = v` (integers, floats, bools, chars, strings, or an error by reference,
/// `error = &e`), `k = %v` (formatted with `Display`), `k = ?v` (formatted with `Debug`), or
/// `k` alone for `k = k`. A raw identifier names the field without its `r#` (`r#type = 1` is `type`), as in
/// `tracing`. The values are evaluated once, in order, and only when the level is enabled.
#[macro_export]
macro_rules! log {
    ($logger:expr, $level:expr, $msg:literal $(,)?) => {
        $crate::__kolog_record!(@ sync ($logger) ($level) ($msg) [] [])
    };
    ($logger:expr, $level:expr, $msg:literal, $($fields:tt)+) => {
        $crate::__kolog_record!(@ sync ($logger) ($level) ($msg) [] [] $($fields)+)
    };
}

/// Async [`log!`]: returns a future that completes once the record is enqueued. Under `Block`
/// with a full ring it waits for space through its waker and never blocks the executor
/// thread. The future is `Send + 'static`.
#[macro_export]
macro_rules! alog {
    ($logger:expr, $level:expr, $msg:literal $(,)?) => {
        $crate::__kolog_record!(@ async ($logger) ($level) ($msg) [] [])
    };
    ($logger:expr, $level:expr, $msg:literal, $($fields:tt)+) => {
        $crate::__kolog_record!(@ async ($logger) ($level) ($msg) [] [] $($fields)+)
    };
}

/// Async `DEBUG`; see [`alog!`].
#[macro_export]
macro_rules! adebug {
    ($logger:expr, $($rest:tt)+) => { $crate::alog!($logger, $crate::Level::Debug, $($rest)+) };
}

/// Async `INFO`; see [`alog!`].
///
/// ```
/// # async fn run(log: kolog::Logger) {
/// kolog::ainfo!(log, "Processing request", user_id = 123).await;
/// # }
/// ```
#[macro_export]
macro_rules! ainfo {
    ($logger:expr, $($rest:tt)+) => { $crate::alog!($logger, $crate::Level::Info, $($rest)+) };
}

/// Async `WARNING`; see [`alog!`].
#[macro_export]
macro_rules! awarning {
    ($logger:expr, $($rest:tt)+) => { $crate::alog!($logger, $crate::Level::Warning, $($rest)+) };
}

/// Async `ERROR`; see [`alog!`].
#[macro_export]
macro_rules! aerror {
    ($logger:expr, $($rest:tt)+) => { $crate::alog!($logger, $crate::Level::Error, $($rest)+) };
}

/// Async `CRITICAL`; see [`alog!`].
#[macro_export]
macro_rules! acritical {
    ($logger:expr, $($rest:tt)+) => { $crate::alog!($logger, $crate::Level::Critical, $($rest)+) };
}

/// Logs at `TRACE`.
#[macro_export]
macro_rules! trace {
    ($logger:expr, $($rest:tt)+) => { $crate::log!($logger, $crate::Level::Trace, $($rest)+) };
}

/// Logs at `DEBUG`.
#[macro_export]
macro_rules! debug {
    ($logger:expr, $($rest:tt)+) => { $crate::log!($logger, $crate::Level::Debug, $($rest)+) };
}

/// Logs at `INFO`.
///
/// ```
/// let kolog = kolog::Kolog::default();
/// let log = kolog.logger("root").unwrap();
/// let addr = std::net::Ipv4Addr::LOCALHOST;
/// kolog::info!(log, "Processing request", user_id = 123, ip = %addr, ok = true);
/// ```
///
/// A field name may appear once per statement; a repeated one is a compile-time error:
///
/// ```compile_fail,E0080
/// let kolog = kolog::Kolog::default();
/// let log = kolog.logger("root").unwrap();
/// kolog::info!(log, "twice", user_id = 1, user_id = 2);
/// ```
#[macro_export]
macro_rules! info {
    ($logger:expr, $($rest:tt)+) => { $crate::log!($logger, $crate::Level::Info, $($rest)+) };
}

/// Logs at `WARNING`.
#[macro_export]
macro_rules! warning {
    ($logger:expr, $($rest:tt)+) => { $crate::log!($logger, $crate::Level::Warning, $($rest)+) };
}

/// Logs at `ERROR`.
#[macro_export]
macro_rules! error {
    ($logger:expr, $($rest:tt)+) => { $crate::log!($logger, $crate::Level::Error, $($rest)+) };
}

/// Logs at `CRITICAL`.
#[macro_export]
macro_rules! critical {
    ($logger:expr, $($rest:tt)+) => { $crate::log!($logger, $crate::Level::Critical, $($rest)+) };
}

/// A function naming the function it is expanded in, for `Callsite::function`: the type
/// name of an item declared there holds its path.
#[doc(hidden)]
#[macro_export]
macro_rules! __kolog_function {
    () => {{
        fn __kolog_fn() -> &'static str {
            fn here() {}
            ::core::any::type_name_of_val(&here)
        }
        ::core::option::Option::Some(__kolog_fn as fn() -> &'static str)
    }};
}

/// The static callsite of a logging statement.
#[doc(hidden)]
#[macro_export]
macro_rules! __kolog_callsite {
    ($msg:expr, [$($n:expr),*]) => {
        $crate::record::Callsite {
            message: $msg,
            fields: {
                const __KOLOG_FIELDS: &[&str] = &[$($crate::__private::field_name($n)),*];
                const _: () = ::core::assert!(
                    $crate::__private::distinct(__KOLOG_FIELDS),
                    "kolog: a field name appears twice in one logging statement"
                );
                __KOLOG_FIELDS
            },
            file: file!(),
            line: line!(),
            module_path: module_path!(),
            kind: $crate::record::CallsiteKind::Event,
            function: $crate::__kolog_function!(),
        }
    };
}

/// Captures one field value (autoref specialisation, see `kolog::front::value`).
#[doc(hidden)]
#[macro_export]
macro_rules! __kolog_value {
    (% $v:expr) => {
        $crate::__private::FieldValue::Display(&$v)
    };
    (? $v:expr) => {
        $crate::__private::FieldValue::Debug(&$v)
    };
    ($v:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ViaBoxedError as _, ViaError as _, ViaValue as _};
        (&&&$crate::__private::Wrap(&$v)).__kolog_value()
    }};
}

/// Munches `k = v, ...` into a list of names and a list of values, then expands the record.
#[doc(hidden)]
#[macro_export]
macro_rules! __kolog_record {
    (@ sync ($logger:expr) ($level:expr) ($msg:expr) [$($n:expr),*] [$($v:expr),*]) => {{
        static __KOLOG_CALLSITE: $crate::record::Callsite = $crate::__kolog_callsite!($msg, [$($n),*]);
        let __kolog_logger: &$crate::Logger = &$logger;
        let __kolog_level: $crate::Level = $level;
        if __kolog_logger.enabled(__kolog_level) {
            __kolog_logger.__emit_array(__kolog_level, &__KOLOG_CALLSITE, [$($v),*]);
        }
    }};
    (@ async ($logger:expr) ($level:expr) ($msg:expr) [$($n:expr),*] [$($v:expr),*]) => {{
        static __KOLOG_CALLSITE: $crate::record::Callsite = $crate::__kolog_callsite!($msg, [$($n),*]);
        let __kolog_logger: &$crate::Logger = &$logger;
        let __kolog_level: $crate::Level = $level;
        // Bound in a `let` so the captured values (which may borrow non-Sync data) are dropped
        // before the caller awaits: the future itself owns no borrows and is `Send`.
        let __kolog_future = if __kolog_logger.enabled(__kolog_level) {
            __kolog_logger.__emit_async_array(__kolog_level, &__KOLOG_CALLSITE, [$($v),*])
        } else {
            $crate::__private::EnqueueFuture::ready()
        };
        __kolog_future
    }};
    (@ $mode:ident $l:tt $lv:tt $m:tt [$($n:expr),*] [$($v:expr),*] $k:ident = % $val:expr $(, $($rest:tt)*)?) => {
        $crate::__kolog_record!(@ $mode $l $lv $m [$($n,)* stringify!($k)] [$($v,)* $crate::__kolog_value!(% $val)] $($($rest)*)?)
    };
    (@ $mode:ident $l:tt $lv:tt $m:tt [$($n:expr),*] [$($v:expr),*] $k:ident = ? $val:expr $(, $($rest:tt)*)?) => {
        $crate::__kolog_record!(@ $mode $l $lv $m [$($n,)* stringify!($k)] [$($v,)* $crate::__kolog_value!(? $val)] $($($rest)*)?)
    };
    (@ $mode:ident $l:tt $lv:tt $m:tt [$($n:expr),*] [$($v:expr),*] $k:ident = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__kolog_record!(@ $mode $l $lv $m [$($n,)* stringify!($k)] [$($v,)* $crate::__kolog_value!($val)] $($($rest)*)?)
    };
    (@ $mode:ident $l:tt $lv:tt $m:tt [$($n:expr),*] [$($v:expr),*] $k:ident $(, $($rest:tt)*)?) => {
        $crate::__kolog_record!(@ $mode $l $lv $m [$($n,)* stringify!($k)] [$($v,)* $crate::__kolog_value!($k)] $($($rest)*)?)
    };
}

/// A new [`Logger`](crate::Logger) with more bound context; the original is unchanged.
///
/// ```
/// let kolog = kolog::Kolog::default();
/// let log = kolog.logger("root").unwrap();
/// let auth = kolog::bind!(log, service = "auth", env = "prod");
/// let req = kolog::bind!(auth, request_id = "abc123");
/// assert_eq!(req.context().len(), 3);
/// assert!(log.context().is_empty());
/// ```
#[macro_export]
macro_rules! bind {
    ($logger:expr $(,)?) => { ::core::clone::Clone::clone(&$logger) };
    ($logger:expr, $($fields:tt)+) => {
        $crate::__kolog_bind!(@ ($logger) [] $($fields)+)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __kolog_bind {
    (@ ($logger:expr) [$($f:expr),*]) => {{
        let __kolog_logger: &$crate::Logger = &$logger;
        __kolog_logger.bind_fields(&[$($f),*])
    }};
    (@ $l:tt [$($f:expr),*] $k:ident = % $val:expr $(, $($rest:tt)*)?) => {
        $crate::__kolog_bind!(@ $l [$($f,)* ($crate::__private::field_name(stringify!($k)), $crate::__kolog_value!(% $val))] $($($rest)*)?)
    };
    (@ $l:tt [$($f:expr),*] $k:ident = ? $val:expr $(, $($rest:tt)*)?) => {
        $crate::__kolog_bind!(@ $l [$($f,)* ($crate::__private::field_name(stringify!($k)), $crate::__kolog_value!(? $val))] $($($rest)*)?)
    };
    (@ $l:tt [$($f:expr),*] $k:ident = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__kolog_bind!(@ $l [$($f,)* ($crate::__private::field_name(stringify!($k)), $crate::__kolog_value!($val))] $($($rest)*)?)
    };
    (@ $l:tt [$($f:expr),*] $k:ident $(, $($rest:tt)*)?) => {
        $crate::__kolog_bind!(@ $l [$($f,)* ($crate::__private::field_name(stringify!($k)), $crate::__kolog_value!($k))] $($($rest)*)?)
    };
}

/// Logs `Begin: <msg>` at INFO now and `End (<seconds>): <msg>` when the returned guard is
/// dropped. Fields are bound to the guard's logger, which the guard derefs to.
///
/// ```
/// let kolog = kolog::Kolog::default();
/// let log = kolog.logger("root").unwrap();
/// {
///     let q = kolog::info_life!(log, "Database query", table = "users");
///     kolog::info!(q, "Did work");
/// } // logs "End (0.00): Database query"
/// ```
#[macro_export]
macro_rules! info_life {
    ($logger:expr, $msg:literal $(, $($fields:tt)*)?) => {{
        static __KOLOG_BEGIN: $crate::record::Callsite = $crate::record::Callsite {
            message: concat!("Begin: ", $msg),
            fields: &[],
            file: file!(),
            line: line!(),
            module_path: module_path!(),
            kind: $crate::record::CallsiteKind::Event,
            function: $crate::__kolog_function!(),
        };
        static __KOLOG_END: $crate::record::Callsite = $crate::record::Callsite {
            message: $msg,
            fields: &["elapsed"],
            file: file!(),
            line: line!(),
            module_path: module_path!(),
            kind: $crate::record::CallsiteKind::LifeEnd,
            function: $crate::__kolog_function!(),
        };
        $crate::__private::LifeGuard::start(
            $crate::bind!($logger $(, $($fields)*)?),
            $crate::Level::Info,
            &__KOLOG_BEGIN,
            &__KOLOG_END,
        )
    }};
}
