//! How the macros capture field values without allocating: integers, floats, bools and strings
//! are taken as they are; `%v` and `?v` are formatted on the caller into the ring; an error
//! (`error = &e`) keeps its source chain.
//!
//! The macros pick the capture by autoref specialisation: `(&&&Wrap(&v)).__kolog_value()`
//! resolves to [`ViaValue`] when the type implements [`ToValue`], else to [`ViaError`] when it
//! implements `std::error::Error`.

pub use crate::record::encode::FieldValue;

/// Types that can be a field value as they are (`k = v`): integers, floats, `bool`, `char`,
/// strings (`&str`, `String`, `Cow<str>`, `Box<str>`, `Arc<str>`) and references to them.
/// Any other type is logged with `k = %v` (its `Display`) or `k = ?v` (its `Debug`); an error
/// with `error = &e`.
pub trait ToValue {
    /// The value to encode.
    fn to_value(&self) -> FieldValue<'_>;
}

macro_rules! to_value_int {
    ($variant:ident as $as:ty: $($t:ty),*) => {$(
        impl ToValue for $t {
            #[inline(always)]
            fn to_value(&self) -> FieldValue<'_> {
                FieldValue::$variant(*self as $as)
            }
        }
    )*};
}

to_value_int!(I64 as i64: i8, i16, i32, i64, isize);
to_value_int!(U64 as u64: u8, u16, u32, u64, usize);
to_value_int!(F64 as f64: f64);
to_value_int!(F32 as f32: f32);

macro_rules! to_value_wide {
    ($($t:ty => $variant:ident($narrow:ty)),*) => {$(
        /// A JSON number when it fits in 64 bits, else its decimal digits (a string in JSON,
        /// like every value that is not a 64-bit number, a float or a bool).
        impl ToValue for $t {
            #[inline]
            fn to_value(&self) -> FieldValue<'_> {
                match <$narrow>::try_from(*self) {
                    Ok(v) => FieldValue::$variant(v),
                    Err(_) => FieldValue::Display(self),
                }
            }
        }
    )*};
}

to_value_wide!(u128 => U64(u64), i128 => I64(i64));

impl ToValue for bool {
    #[inline(always)]
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::Bool(*self)
    }
}

/// A string of the one character (formatted on the caller, as `%c` is).
impl ToValue for char {
    #[inline]
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::Display(self)
    }
}

impl ToValue for str {
    #[inline(always)]
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::Str(self)
    }
}

impl ToValue for String {
    #[inline(always)]
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::Str(self)
    }
}

impl ToValue for std::borrow::Cow<'_, str> {
    #[inline(always)]
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::Str(self)
    }
}

impl ToValue for Box<str> {
    #[inline(always)]
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::Str(self)
    }
}

impl ToValue for std::sync::Arc<str> {
    #[inline(always)]
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::Str(self)
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    #[inline(always)]
    fn to_value(&self) -> FieldValue<'_> {
        (**self).to_value()
    }
}

/// Wraps a captured reference for autoref specialisation (used by the macros).
#[doc(hidden)]
pub struct Wrap<'a, T: ?Sized>(pub &'a T);

/// First choice: a [`ToValue`] type.
#[doc(hidden)]
pub trait ViaValue<'a> {
    fn __kolog_value(&self) -> FieldValue<'a>;
}

impl<'a, T: ToValue + ?Sized> ViaValue<'a> for &&Wrap<'a, T> {
    #[inline(always)]
    fn __kolog_value(&self) -> FieldValue<'a> {
        self.0.to_value()
    }
}

/// Second choice: an error, kept with its type name and source chain.
#[doc(hidden)]
pub trait ViaError<'a> {
    fn __kolog_value(&self) -> FieldValue<'a>;
}

impl<'a, E: std::error::Error> ViaError<'a> for &Wrap<'a, E> {
    #[inline(always)]
    fn __kolog_value(&self) -> FieldValue<'a> {
        FieldValue::Error(self.0, std::any::type_name::<E>().trim_start_matches('&'))
    }
}

/// Third choice: a boxed error (`Box<dyn Error>` does not implement `Error` itself), kept
/// like any other error, whether captured as `error = &e` or `error = e`.
#[doc(hidden)]
pub trait ViaBoxedError<'a> {
    fn __kolog_value(&self) -> FieldValue<'a>;
}

macro_rules! via_boxed_error {
    ($($bound:ty),*) => {$(
        impl<'a> ViaBoxedError<'a> for Wrap<'a, Box<$bound>> {
            #[inline(always)]
            fn __kolog_value(&self) -> FieldValue<'a> {
                FieldValue::Error(&**self.0, concat!("Box<", stringify!($bound), ">"))
            }
        }

        impl<'a> ViaBoxedError<'a> for Wrap<'a, &Box<$bound>> {
            #[inline(always)]
            fn __kolog_value(&self) -> FieldValue<'a> {
                FieldValue::Error(&***self.0, concat!("Box<", stringify!($bound), ">"))
            }
        }
    )*};
}

via_boxed_error!(
    dyn std::error::Error,
    dyn std::error::Error + Send,
    dyn std::error::Error + Send + Sync
);
