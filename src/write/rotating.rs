//! `rotating_file`: a log file rotated by size and/or time, between records only.
//!
//! Size (`max_bytes` > 0 and `backup_count` > 0, as in Python's `RotatingFileHandler`): before
//! a record would take the file to `max_bytes` or more, the file is renamed `app.log.1`
//! (`app.log.1` → `app.log.2` …, the oldest beyond `backup_count` deleted) and a new file
//! started. A record larger than `max_bytes` goes alone into a fresh file; a record is never
//! split. With `backup_count` 0 the file never rotates by size (Python's rule).
//!
//! Time (`rotation_interval`): when the interval since the file was opened has elapsed, the
//! file is renamed with the UTC time it was opened, `app.log.2024-01-01_12-00-00` (Python's
//! `TimedRotatingFileHandler` suffix), keeping the newest `backup_count` (0 keeps all).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::file::{check_path, name_max, OpenFile};
use super::{WriteError, Writer};
use crate::config::RotatingFileParams;
use crate::Error;

pub(crate) struct RotatingWriter {
    path: PathBuf,
    max_bytes: u64,
    backup_count: u32,
    interval: Option<Duration>,
    truncate: bool,
    file: Option<OpenFile>,
    opened: Instant,
    opened_unix: u64,
}

impl RotatingWriter {
    pub(crate) fn build(p: &RotatingFileParams) -> Result<RotatingWriter, Error> {
        check_path(&p.filename, "RotatingFileHandler")?;
        check_backup_names(p)?;
        Ok(RotatingWriter {
            path: p.filename.clone(),
            max_bytes: p.max_bytes,
            backup_count: p.backup_count,
            interval: p.rotation_interval,
            truncate: p.mode.starts_with('w'),
            file: None,
            opened: Instant::now(),
            opened_unix: 0,
        })
    }

    fn open(&mut self) -> io::Result<()> {
        if self.file.as_mut().is_some_and(|f| f.replaced(&self.path)) {
            self.file = None;
        }
        if self.file.is_some() {
            return Ok(());
        }
        self.file = Some(OpenFile::open(&self.path, self.truncate)?);
        self.truncate = false;
        self.opened = Instant::now();
        self.opened_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(())
    }

    /// Whether to rotate before a record of `len` bytes, when the file will hold `current`
    /// bytes. An empty file is never rotated, so a record larger than `max_bytes` goes alone
    /// into a fresh file.
    fn due(&self, current: u64, len: u64) -> Option<Rotation> {
        if current == 0 {
            return None;
        }
        if self.interval.is_some_and(|i| self.opened.elapsed() >= i) {
            return Some(Rotation::Time);
        }
        if self.max_bytes > 0 && self.backup_count > 0 && current + len >= self.max_bytes {
            return Some(Rotation::Size);
        }
        None
    }

    fn rotate(&mut self, how: Rotation) -> io::Result<()> {
        self.file = None;
        match how {
            Rotation::Size => {
                let numbered = |i: u32| numbered(&self.path, i);
                let _ = fs::remove_file(numbered(self.backup_count));
                // The backups that exist, newest last: each moves up one, the highest first.
                // (Looking for every number up to `backup_count` would take hours for a large
                // one.)
                let mut existing = self.numbered_backups()?;
                existing.retain(|&i| i < self.backup_count);
                existing.sort_unstable();
                for &i in existing.iter().rev() {
                    fs::rename(numbered(i), numbered(i + 1))?;
                }
                fs::rename(&self.path, numbered(1))?;
            }
            Rotation::Time => {
                // The next suffix after the highest one of this stamp, never a name pruning
                // freed: suffixes grow in creation order within a second.
                let stamp = stamp(self.opened_unix);
                let backups = self.timed_backups()?;
                let target = match backups.iter().filter(|b| b.stamp == stamp).max() {
                    None => timed(&self.path, &stamp, 0),
                    Some(last) => timed(&self.path, &stamp, last.suffix + 1),
                };
                fs::rename(&self.path, target)?;
                if self.backup_count > 0 {
                    self.prune_timed()?;
                }
            }
        }
        self.open()
    }

    /// The time-rotated backups of this file (`app.log.<stamp>` and `app.log.<stamp>.<n>`).
    fn timed_backups(&self) -> io::Result<Vec<TimedBackup>> {
        self.backups(TimedBackup::parse)
    }

    /// The numbers of this file's size-rotated backups (`app.log.<n>`, `n` ≥ 1 written as
    /// `numbered` writes it).
    fn numbered_backups(&self) -> io::Result<Vec<u32>> {
        self.backups(|rest, _| {
            let n: u32 = rest.parse().ok()?;
            (n >= 1 && rest == n.to_string()).then_some(n)
        })
    }

    /// What `parse` makes of the files beside this one whose name continues it with a `.`
    /// (given what follows, and the file's path).
    fn backups<T>(&self, parse: impl Fn(&str, PathBuf) -> Option<T>) -> io::Result<Vec<T>> {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Ok(Vec::new());
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let mut prefix = name.to_owned();
        prefix.push(".");
        let prefix = prefix.as_encoded_bytes();
        Ok(fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = e.file_name();
                let rest = n.as_encoded_bytes().strip_prefix(prefix)?;
                parse(std::str::from_utf8(rest).ok()?, e.path())
            })
            .collect())
    }

    /// Keeps the newest `backup_count` time-rotated files, by stamp and then suffix (numeric:
    /// `.10` is newer than `.9`).
    fn prune_timed(&self) -> io::Result<()> {
        let mut rotated = self.timed_backups()?;
        rotated.sort();
        let keep = self.backup_count as usize;
        if rotated.len() > keep {
            for old in &rotated[..rotated.len() - keep] {
                fs::remove_file(&old.path)?;
            }
        }
        Ok(())
    }

    fn write_run(&mut self, run: &[u8]) -> io::Result<()> {
        if run.is_empty() {
            return Ok(());
        }
        self.open()?;
        self.file.as_mut().expect("opened").append(run)
    }
}

/// Refuses a handler whose backup names (`app.log.<backup_count>`, or `app.log.<stamp>` by
/// time, `app.log.<stamp>.<n>` when it rotates more than once a second) would be longer than its directory's file system allows, though the file's own name
/// fits: every rotation would fail with `ENAMETOOLONG`, and with it every record due after it,
/// while the file grew without end.
fn check_backup_names(p: &RotatingFileParams) -> Result<(), Error> {
    let Some(name) = p.filename.file_name() else {
        return Ok(());
    };
    let suffix = if let Some(interval) = p.rotation_interval {
        // More than one rotation a second adds `.<n>` to the stamp.
        let per_second = (1.0 / interval.as_secs_f64()).ceil() as u64;
        let numbered = if per_second > 1 {
            1 + (per_second - 1).to_string().len()
        } else {
            0
        };
        ".2024-01-01_12-00-00".len() + numbered
    } else if p.max_bytes > 0 && p.backup_count > 0 {
        1 + p.backup_count.to_string().len()
    } else {
        return Ok(());
    };
    let longest = name.len() + suffix;
    let max = name_max(&p.filename);
    if longest <= max {
        return Ok(());
    }
    Err(Error::new(
        crate::ErrorKind::Handler,
        "HANDLER",
        "RotatingFileHandler",
        "IO",
        format!(
            "Failed to open the file at path `{}`: its backup names would be {longest} bytes \
             long, more than the {max} its file system allows; rotation would fail",
            p.filename.display()
        ),
    ))
}

#[derive(Clone, Copy)]
enum Rotation {
    Size,
    Time,
}

fn numbered(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

fn stamp(unix: u64) -> String {
    let c = crate::render::civil(unix as i64);
    format!(
        "{:04}-{:02}-{:02}_{:02}-{:02}-{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

fn timed(path: &Path, stamp: &str, suffix: u64) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{stamp}"));
    if suffix > 0 {
        s.push(format!(".{suffix}"));
    }
    PathBuf::from(s)
}

/// A time-rotated backup; orders oldest first (stamp, then suffix; no suffix is 0).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct TimedBackup {
    stamp: String,
    suffix: u64,
    path: PathBuf,
}

impl TimedBackup {
    /// From what follows `app.log.` in a file name: `<stamp>` or `<stamp>.<n>`.
    fn parse(rest: &str, path: PathBuf) -> Option<TimedBackup> {
        let stamp = rest.get(..19)?;
        let b = stamp.as_bytes();
        let shape = b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 | 13 | 16 => *c == b'-',
            10 => *c == b'_',
            _ => c.is_ascii_digit(),
        });
        if !shape {
            return None;
        }
        let suffix = match &rest[19..] {
            "" => 0,
            tail => {
                let digits = tail.strip_prefix('.')?;
                if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                digits.parse().ok()?
            }
        };
        Some(TimedBackup {
            stamp: stamp.to_owned(),
            suffix,
            path,
        })
    }
}

impl Writer for RotatingWriter {
    fn offload(&self) -> bool {
        true
    }
    fn write(&mut self, buf: &[u8], ends: &[usize]) -> Result<(), WriteError> {
        // Records of the batch already appended: a failure after them loses only the rest.
        let mut written = 0;
        let result = (|| {
            self.open()?;
            let mut run_start = 0;
            let mut start = 0;
            for (i, &end) in ends.iter().enumerate() {
                let size = self.file.as_ref().map_or(0, |f| f.len);
                let current = size + (start - run_start) as u64;
                if let Some(how) = self.due(current, (end - start) as u64) {
                    self.write_run(&buf[run_start..start])?;
                    written = i;
                    self.rotate(how)?;
                    run_start = start;
                }
                start = end;
            }
            self.write_run(&buf[run_start..start])
        })();
        if let Err(error) = result {
            self.file = None;
            return Err(WriteError { error, written });
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        self.file = None;
        Ok(())
    }

    fn file(&self) -> Option<(&Path, bool)> {
        Some((&self.path, self.truncate))
    }

    fn truncated(&mut self) {
        self.truncate = false;
    }

    /// Whether it ever renames its file: by time, or by size (`max_bytes` and `backup_count`
    /// both above 0). One that does neither only appends, like a `file` handler.
    fn rotates(&self) -> bool {
        self.interval.is_some() || (self.max_bytes > 0 && self.backup_count > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(rest: &str) -> Option<TimedBackup> {
        TimedBackup::parse(rest, PathBuf::from(rest))
    }

    #[test]
    fn timed_backups_order_by_stamp_then_numeric_suffix() {
        let mut names: Vec<TimedBackup> = [
            "2024-01-01_12-00-01",
            "2024-01-01_12-00-00.10",
            "2024-01-01_12-00-00.9",
            "2024-01-01_12-00-00",
        ]
        .into_iter()
        .map(|n| backup(n).unwrap())
        .collect();
        names.sort();
        let order: Vec<_> = names.iter().map(|b| b.path.to_str().unwrap()).collect();
        assert_eq!(
            order,
            [
                "2024-01-01_12-00-00",
                "2024-01-01_12-00-00.9",
                "2024-01-01_12-00-00.10",
                "2024-01-01_12-00-01",
            ]
        );
    }

    #[test]
    fn other_files_are_not_timed_backups() {
        for rest in [
            "1",
            "2024-01-01_12-00-00.",
            "2024-01-01_12-00-00.x",
            "2024-01-01T12-00-00",
            "é",
        ] {
            assert!(backup(rest).is_none(), "{rest}");
        }
    }
}
