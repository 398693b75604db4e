//! Dates for renderers: civil dates from Unix time, RFC 3339, and a documented strftime subset
//! (`datefmt`) parsed once and cached per second.
//!
//! Supported directives: `%Y` (year), `%y` (2-digit year), `%m`, `%d`, `%H`, `%I` (12-hour),
//! `%M`, `%S`, `%f` (microseconds, 6 digits), `%j` (day of year), `%b`/`%B` (month name),
//! `%a`/`%A` (weekday name), `%p` (AM/PM), `%z` (`+0000`), `%Z` (`UTC`), `%s` (Unix seconds),
//! `%%`. Any other directive is a configuration error. Dates are UTC unless the renderer has
//! `utc: false`: then they are local time per the system's zone files (see `render::tz`), and
//! `%z`/`%Z` give the offset and abbreviation in force (its control characters escaped).

use super::tz::Zone;
use crate::Error;

/// Broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// Days since 1970-01-01.
    pub days: i64,
}

pub(crate) fn civil(unix_secs: i64) -> Civil {
    let days = unix_secs.div_euclid(86_400);
    let rem = unix_secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
        days,
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn day_of_year(c: &Civil) -> u32 {
    const CUM: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    CUM[c.month as usize - 1] + c.day + u32::from(c.month > 2 && is_leap(c.year))
}

fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut b = itoa::Buffer::new();
    let s = b.format(v);
    for _ in s.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

/// Appends `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`.
pub(crate) fn push_rfc3339(out: &mut Vec<u8>, unix_nanos: u64) {
    let c = civil((unix_nanos / 1_000_000_000) as i64);
    push_padded(out, c.year as u64, 4);
    out.push(b'-');
    push2(out, c.month);
    out.push(b'-');
    push2(out, c.day);
    out.push(b'T');
    push2(out, c.hour);
    out.push(b':');
    push2(out, c.minute);
    out.push(b':');
    push2(out, c.second);
    out.push(b'.');
    push_padded(out, unix_nanos % 1_000_000_000 / 1_000, 6);
    out.push(b'Z');
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Lit(Vec<u8>),
    Dir(u8),
}

/// A parsed `datefmt` with a per-second cache of everything but `%f`.
#[derive(Debug, Clone)]
pub(crate) struct DateFormat {
    items: Vec<Item>,
    /// `None` for UTC.
    zone: Option<Zone>,
    has_micros: bool,
    cached_sec: Option<u64>,
    cached: Vec<u8>,
}

pub(crate) const DEFAULT_DATEFMT: &str = "%Y-%m-%d %H:%M:%S";

impl DateFormat {
    #[cfg(test)]
    pub(crate) fn parse(fmt: &str) -> Result<DateFormat, Error> {
        DateFormat::parse_in(fmt, None)
    }

    /// A format rendering local time in `zone` (`None`: UTC).
    pub(crate) fn parse_in(fmt: &str, zone: Option<Zone>) -> Result<DateFormat, Error> {
        let mut items = Vec::new();
        let mut lit = Vec::new();
        let mut chars = fmt.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                super::plain::push_literal(&mut lit, c);
                continue;
            }
            let d = chars.next().ok_or_else(|| {
                Error::configuration("Renderer", format!("datefmt `{fmt}` ends with a lone `%`"))
            })?;
            if d == '%' {
                lit.push(b'%');
                continue;
            }
            // Directives are ASCII: a non-ASCII character is named whole, not by its first byte.
            let directive = u8::try_from(d)
                .ok()
                .filter(|d| b"YymdHIMSfjbBaApzZs".contains(d))
                .ok_or_else(|| {
                    Error::configuration(
                        "Renderer",
                        format!(
                            "datefmt `{fmt}`: unsupported directive `%{d}` (supported: %Y %y %m %d %H %I %M %S %f %j %b %B %a %A %p %z %Z %s %%)"
                        ),
                    )
                })?;
            if !lit.is_empty() {
                items.push(Item::Lit(std::mem::take(&mut lit)));
            }
            items.push(Item::Dir(directive));
        }
        if !lit.is_empty() {
            items.push(Item::Lit(lit));
        }
        let has_micros = items.contains(&Item::Dir(b'f'));
        Ok(DateFormat {
            items,
            zone,
            has_micros,
            cached_sec: None,
            cached: Vec::new(),
        })
    }

    /// Appends the formatted date.
    pub(crate) fn format(&mut self, unix_nanos: u64, out: &mut Vec<u8>) {
        let sec = unix_nanos / 1_000_000_000;
        if self.has_micros {
            return self.render(unix_nanos, out);
        }
        if self.cached_sec != Some(sec) {
            let mut buf = std::mem::take(&mut self.cached);
            buf.clear();
            self.render(unix_nanos, &mut buf);
            self.cached = buf;
            self.cached_sec = Some(sec);
        }
        out.extend_from_slice(&self.cached);
    }

    fn render(&self, unix_nanos: u64, out: &mut Vec<u8>) {
        let secs = (unix_nanos / 1_000_000_000) as i64;
        let (offset, abbr) = match &self.zone {
            Some(z) => {
                let t = z.at(secs);
                (t.offset, &*t.abbr)
            }
            None => (0, "UTC"),
        };
        let c = civil(secs + i64::from(offset));
        for item in &self.items {
            match item {
                Item::Lit(l) => out.extend_from_slice(l),
                Item::Dir(d) => match d {
                    b'Y' => push_padded(out, c.year as u64, 4),
                    b'y' => push2(out, (c.year % 100) as u32),
                    b'm' => push2(out, c.month),
                    b'd' => push2(out, c.day),
                    b'H' => push2(out, c.hour),
                    b'I' => push2(out, if c.hour % 12 == 0 { 12 } else { c.hour % 12 }),
                    b'M' => push2(out, c.minute),
                    b'S' => push2(out, c.second),
                    b'f' => push_padded(out, unix_nanos % 1_000_000_000 / 1_000, 6),
                    b'j' => push_padded(out, u64::from(day_of_year(&c)), 3),
                    b'b' => out.extend_from_slice(&MONTHS[c.month as usize - 1].as_bytes()[..3]),
                    b'B' => out.extend_from_slice(MONTHS[c.month as usize - 1].as_bytes()),
                    b'a' => out.extend_from_slice(
                        &WEEKDAYS[c.days.rem_euclid(7) as usize].as_bytes()[..3],
                    ),
                    b'A' => {
                        out.extend_from_slice(WEEKDAYS[c.days.rem_euclid(7) as usize].as_bytes())
                    }
                    b'p' => out.extend_from_slice(if c.hour < 12 { b"AM" } else { b"PM" }),
                    b'z' => {
                        let a = offset.unsigned_abs() / 60;
                        out.push(if offset < 0 { b'-' } else { b'+' });
                        push2(out, a / 60);
                        push2(out, a % 60);
                    }
                    b'Z' => out.extend_from_slice(abbr.as_bytes()),
                    b's' => out.extend_from_slice(itoa::Buffer::new().format(secs).as_bytes()),
                    _ => {}
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(f: &str, nanos: u64) -> String {
        let mut d = DateFormat::parse(f).unwrap();
        let mut out = Vec::new();
        d.format(nanos, &mut out);
        String::from_utf8(out).unwrap()
    }

    const T: u64 = 1_704_110_400_123_456_000; // 2024-01-01T12:00:00.123456Z, a Monday

    #[test]
    fn civil_dates() {
        assert_eq!(
            civil(0),
            Civil {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
                days: 0
            }
        );
        let c = civil(951_782_400); // 2000-02-29
        assert_eq!((c.year, c.month, c.day), (2000, 2, 29));
        let c = civil(2_147_483_648); // 2038-01-19T03:14:08Z
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.second),
            (2038, 1, 19, 3, 14, 8)
        );
        let c = civil(4_102_444_799); // 2099-12-31T23:59:59Z
        assert_eq!((c.year, c.month, c.day, c.hour), (2099, 12, 31, 23));
    }

    #[test]
    fn rfc3339() {
        let mut out = Vec::new();
        push_rfc3339(&mut out, T);
        assert_eq!(out, b"2024-01-01T12:00:00.123456Z");
    }

    #[test]
    fn directives() {
        assert_eq!(fmt(DEFAULT_DATEFMT, T), "2024-01-01 12:00:00");
        assert_eq!(
            fmt("%y/%j %I%p %a %A %b %B %z %Z %s %%", T),
            "24/001 12PM Mon Monday Jan January +0000 UTC 1704110400 %"
        );
        assert_eq!(fmt("%H:%M:%S.%f", T), "12:00:00.123456");
        assert_eq!(fmt("%j", 1_735_603_200_000_000_000), "366"); // 2024-12-31, leap year
        assert!(DateFormat::parse("%Q").is_err());
        assert!(DateFormat::parse("abc%").is_err());
    }

    #[test]
    fn local_time_shifts_by_the_zone_offset() {
        let mut d =
            DateFormat::parse_in("%Y-%m-%d %H:%M %z %Z", Some(Zone::from_tz("<+0530>-5:30")))
                .unwrap();
        let mut out = Vec::new();
        d.format(T, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2024-01-01 17:30 +0530 +0530"
        );
        let mut d = DateFormat::parse_in("%H %z", Some(Zone::from_tz("EST5"))).unwrap();
        let mut out = Vec::new();
        d.format(T, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "07 -0500");
    }

    #[test]
    fn cache_follows_the_second() {
        let mut d = DateFormat::parse("%H:%M:%S").unwrap();
        let mut out = Vec::new();
        d.format(T, &mut out);
        d.format(T + 500_000_000, &mut out);
        d.format(T + 1_000_000_000, &mut out);
        assert_eq!(out, b"12:00:0012:00:0012:00:01");
    }
}
