//! Local time for `datefmt` with `utc: false`, without a time-zone dependency.
//!
//! The zone is read once, when the renderer is built, from the TZif database the C library
//! uses: `TZ` if set (`:Europe/Paris`, `Europe/Paris` under `/usr/share/zoneinfo`, or an
//! absolute path), else `/etc/localtime`. A `TZ` that names no file is read as a fixed POSIX
//! offset (`UTC0`, `EST5`, `<+03>-3`; a DST rule after it is ignored). If nothing can be read,
//! local time is UTC.
//!
//! Limit: after the zone file's last transition the last offset is kept; the POSIX rule in the
//! file's footer is not evaluated (distributions ship "fat" files with transitions up to 2037).

/// One local time type: the offset from UTC and its abbreviation (`CET`, `CEST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalType {
    /// Seconds east of UTC.
    pub offset: i32,
    /// The abbreviation used by `%Z`.
    pub abbr: Box<str>,
}

impl LocalType {
    /// A local time type whose abbreviation comes from outside (`TZ`, a zone file): its
    /// control characters are escaped as values are, so `%Z` keeps a record on one line.
    fn new(offset: i32, abbr: &str) -> LocalType {
        let mut escaped = Vec::with_capacity(abbr.len());
        super::plain::push_escaped(&mut escaped, abbr);
        LocalType {
            offset,
            abbr: String::from_utf8_lossy(&escaped).into(),
        }
    }
}

/// A time zone: transition times and the local time type in force from each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Zone {
    times: Vec<i64>,
    idx: Vec<u8>,
    types: Vec<LocalType>,
}

impl Zone {
    /// UTC.
    pub(crate) fn utc() -> Zone {
        Zone::fixed(0, "UTC")
    }

    fn fixed(offset: i32, abbr: &str) -> Zone {
        Zone {
            times: Vec::new(),
            idx: Vec::new(),
            types: vec![LocalType::new(offset, abbr)],
        }
    }

    /// The process's local zone (see the module docs); UTC if it cannot be determined.
    pub(crate) fn local() -> Zone {
        match std::env::var("TZ") {
            Ok(tz) => Zone::from_tz(&tz),
            Err(_) => Zone::from_file("/etc/localtime").unwrap_or_else(Zone::utc),
        }
    }

    /// The zone a `TZ` value names.
    pub(crate) fn from_tz(tz: &str) -> Zone {
        let name = tz.strip_prefix(':').unwrap_or(tz);
        if name.is_empty() {
            return Zone::utc();
        }
        let file = if name.starts_with('/') {
            Zone::from_file(name)
        } else if name.split('/').any(|p| p == "..") {
            None
        } else {
            Zone::from_file(&format!("/usr/share/zoneinfo/{name}"))
        };
        file.or_else(|| Zone::from_posix(name))
            .unwrap_or_else(Zone::utc)
    }

    fn from_file(path: &str) -> Option<Zone> {
        Zone::parse_tzif(&std::fs::read(path).ok()?)
    }

    /// A fixed offset from a POSIX `TZ` string: `NAME[+-]hh[:mm[:ss]]` (west of UTC positive).
    fn from_posix(s: &str) -> Option<Zone> {
        let (abbr, rest) = if let Some(r) = s.strip_prefix('<') {
            let end = r.find('>')?;
            (&r[..end], &r[end + 1..])
        } else {
            let end = s
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(s.len());
            (&s[..end], &s[end..])
        };
        if abbr.len() < 3 {
            return None;
        }
        let (sign, rest) = match rest.as_bytes().first()? {
            b'-' => (-1, &rest[1..]),
            b'+' => (1, &rest[1..]),
            _ => (1, rest),
        };
        let end = rest
            .find(|c: char| !c.is_ascii_digit() && c != ':')
            .unwrap_or(rest.len());
        let mut secs = 0i32;
        let mut unit = 3600;
        for part in rest[..end].split(':') {
            let n: i32 = part.parse().ok()?;
            if unit == 0 || n > 167 {
                return None;
            }
            secs += n * unit;
            unit /= 60;
        }
        Some(Zone::fixed(-sign * secs, abbr))
    }

    /// Parses a TZif file (RFC 8536), using the 64-bit section of version 2+ files.
    pub(crate) fn parse_tzif(b: &[u8]) -> Option<Zone> {
        let counts = |h: &[u8]| -> Option<[usize; 6]> {
            if h.get(..4)? != b"TZif" {
                return None;
            }
            let mut c = [0usize; 6];
            for (i, c) in c.iter_mut().enumerate() {
                let at = 20 + 4 * i;
                *c = u32::from_be_bytes(h.get(at..at + 4)?.try_into().ok()?) as usize;
            }
            Some(c)
        };
        let [isut, isstd, leap, time, typ, chars] = counts(b)?;
        let v1_len = time * 5 + typ * 6 + chars + leap * 8 + isstd + isut;
        let (data, tsize, [_, _, leap, time, typ, chars]) = if b[4] >= b'2' {
            let h2 = b.get(44 + v1_len..)?;
            (h2.get(44..)?, 8, counts(h2)?)
        } else {
            (&b[44..], 4, [isut, isstd, leap, time, typ, chars])
        };
        let _ = leap;
        let times_b = data.get(..time * tsize)?;
        let idx = data.get(time * tsize..time * (tsize + 1))?.to_vec();
        let types_b = data.get(time * (tsize + 1)..time * (tsize + 1) + typ * 6)?;
        let abbrs = data.get(time * (tsize + 1) + typ * 6..time * (tsize + 1) + typ * 6 + chars)?;
        let times = times_b
            .chunks_exact(tsize)
            .map(|c| match tsize {
                8 => i64::from_be_bytes(c.try_into().unwrap()),
                _ => i64::from(i32::from_be_bytes(c.try_into().unwrap())),
            })
            .collect();
        let mut types = Vec::with_capacity(typ);
        for t in types_b.chunks_exact(6) {
            let offset = i32::from_be_bytes(t[..4].try_into().unwrap());
            let start = usize::from(t[5]).min(abbrs.len());
            let len = abbrs[start..]
                .iter()
                .position(|&c| c == 0)
                .unwrap_or(abbrs.len() - start);
            let abbr = String::from_utf8_lossy(&abbrs[start..start + len]);
            types.push(LocalType::new(offset, &abbr));
        }
        if types.is_empty() || idx.iter().any(|&i| usize::from(i) >= types.len()) {
            return None;
        }
        Some(Zone { times, idx, types })
    }

    /// The local time type in force at `secs` (Unix seconds).
    pub(crate) fn at(&self, secs: i64) -> &LocalType {
        let n = self.times.partition_point(|&t| t <= secs);
        if n == 0 {
            &self.types[0]
        } else {
            &self.types[usize::from(self.idx[n - 1])]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_fixed_offsets() {
        assert_eq!(Zone::from_tz("UTC0").at(0).offset, 0);
        let est = Zone::from_tz("EST5-not-a-file-name");
        assert_eq!(est.at(0).offset, -5 * 3600);
        assert_eq!(&*est.at(0).abbr, "EST");
        let z = Zone::from_posix("<+0530>-5:30").unwrap();
        assert_eq!(z.at(0).offset, 5 * 3600 + 1800);
        assert_eq!(&*z.at(0).abbr, "+0530");
        assert!(Zone::from_posix("X5").is_none());
        assert_eq!(Zone::from_tz(""), Zone::utc());
        assert_eq!(Zone::from_tz("../../etc/passwd"), Zone::utc());
    }

    #[test]
    fn tzif_files_give_dst_offsets() {
        let Some(paris) = Zone::from_file("/usr/share/zoneinfo/Europe/Paris") else {
            return; // no tz database on this machine
        };
        // 2024-01-01T12:00:00Z: CET (+1); 2024-07-01T12:00:00Z: CEST (+2).
        assert_eq!(paris.at(1_704_110_400).offset, 3600);
        assert_eq!(&*paris.at(1_704_110_400).abbr, "CET");
        assert_eq!(paris.at(1_719_835_200).offset, 7200);
        assert_eq!(&*paris.at(1_719_835_200).abbr, "CEST");
        // DST starts 2024-03-31T01:00:00Z.
        assert_eq!(paris.at(1_711_846_799).offset, 3600);
        assert_eq!(paris.at(1_711_846_800).offset, 7200);
    }

    #[test]
    fn garbage_is_not_a_zone() {
        assert!(Zone::parse_tzif(b"").is_none());
        assert!(Zone::parse_tzif(b"TZif2").is_none());
        let mut b = b"TZif2".to_vec();
        b.resize(44, 0);
        b[20 + 4 * 4 + 3] = 1; // typecnt = 1 but no data
        assert!(Zone::parse_tzif(&b).is_none());
    }
}
