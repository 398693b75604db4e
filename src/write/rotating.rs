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
//! `TimedRotatingFileHandler` suffix), keeping the newest `backup_count` (0 keeps all). The
//! interval runs on the monotonic clock, so a stepped system clock neither stalls rotation nor
//! makes it loop; backups this writer made count as newer than older stamps (after a step
//! back, a new backup's stamp can be earlier than an old one's).
//!
//! Faults: a live file moved away or deleted by someone else is noticed at the next rotation
//! check (or within a second, as by the `file` writer) and a new one started. A rotation that
//! fails leaves the records going into the live file, is reported once and retried a second
//! later. A backup name taken by something that cannot be removed or moved (a directory) is
//! reported once and skipped.

use std::collections::{BTreeSet, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::file::{check_path, name_max, OpenFile};
use super::{WriteError, Writer};
use crate::config::RotatingFileParams;
use crate::Error;

/// After a rotation failed, how long the writer waits before it tries again (writing on into
/// the live file meanwhile).
const ROTATION_RETRY: Duration = Duration::from_secs(1);

pub(crate) struct RotatingWriter {
    path: PathBuf,
    max_bytes: u64,
    backup_count: u32,
    interval: Option<Duration>,
    truncate: bool,
    file: Option<OpenFile>,
    opened: Instant,
    opened_unix: u64,
    /// After a failed rotation: not tried again before then.
    retry_at: Option<Instant>,
    /// Rotations that failed since the last one that succeeded (the first is reported).
    failed_rotations: u64,
    /// Names among the backups that cannot be removed or moved (a directory), already
    /// reported: each is reported once.
    reported: HashSet<PathBuf>,
    /// The time-rotated backups this writer made and has not pruned, oldest first: newer
    /// than any other whatever their stamps say (the system clock may have been stepped back
    /// since an older one was stamped).
    made: Vec<OsString>,
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
            retry_at: None,
            failed_rotations: 0,
            reported: HashSet::new(),
            made: Vec::new(),
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
        self.opened_unix = crate::clock::system_unix_secs();
        Ok(())
    }

    /// Whether to rotate before a record of `len` bytes, when the file will hold `current`
    /// bytes. An empty file is never rotated, so a record larger than `max_bytes` goes alone
    /// into a fresh file. Within a second of a failed rotation, none is due.
    fn due(&self, current: u64, len: u64) -> Option<Rotation> {
        if current == 0 {
            return None;
        }
        let how = if self.interval.is_some_and(|i| self.opened.elapsed() >= i) {
            Rotation::Time
        } else if self.max_bytes > 0 && self.backup_count > 0 && current + len >= self.max_bytes {
            Rotation::Size
        } else {
            return None;
        };
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        Some(how)
    }

    /// Rotates, and opens the next live file. A live file that was moved away or deleted by
    /// someone else (logrotate without `copytruncate`) counts as rotated: a new one is opened,
    /// and what was written into the old one stays there. A rotation that fails (a backup
    /// name taken by a directory, a directory that refuses renames) leaves the records going
    /// into the live file, past `max_bytes`: it is reported once, and tried again
    /// [`ROTATION_RETRY`] later. Only a live file that cannot be opened again is an error.
    fn rotate(&mut self, how: Rotation) -> io::Result<()> {
        if self
            .file
            .as_ref()
            .is_some_and(|f| f.is_replaced(&self.path))
        {
            self.file = None;
            return self.open();
        }
        self.file = None;
        let rotated = match how {
            Rotation::Size => self.rotate_size(),
            Rotation::Time => self.rotate_time(),
        };
        match rotated {
            Ok(()) => {
                if self.failed_rotations > 0 {
                    crate::error::report(format_args!(
                        "kolog: rotating_file `{}` rotated again after {} failed attempts",
                        self.path.display(),
                        self.failed_rotations
                    ));
                }
                self.failed_rotations = 0;
                self.retry_at = None;
                self.open()
            }
            Err(e) => {
                if self.failed_rotations == 0 {
                    crate::error::report(format_args!(
                        "kolog: rotating_file `{}` could not rotate: {e}; records go on into the live file, and rotation is tried again every {} s",
                        self.path.display(),
                        ROTATION_RETRY.as_secs()
                    ));
                }
                self.failed_rotations += 1;
                self.retry_at = Some(Instant::now() + ROTATION_RETRY);
                // The same live file, appended to; its age still counts from when it was
                // opened (a time rotation is due again at the retry).
                let (opened, opened_unix) = (self.opened, self.opened_unix);
                self.open()?;
                self.opened = opened;
                self.opened_unix = opened_unix;
                Ok(())
            }
        }
    }

    /// Size rotation: the live file becomes `app.log.1` and the backups in its way move up one
    /// (`.1` → `.2` …), the one that would pass `backup_count` deleted. Names taken by
    /// something that cannot be moved or removed (a directory) are skipped: the backups
    /// rotate around them, in order, and are pruned to the names left. Only the backups in
    /// the way move: a gap (left by a rotation that failed, or by someone deleting a backup)
    /// stops the shift, so retrying a failed rotation does not prune a backup each time.
    fn rotate_size(&mut self) -> io::Result<()> {
        let count = self.backup_count;
        let mut files = BTreeSet::new();
        let mut blocked = BTreeSet::new();
        for (n, is_dir) in self.numbered_backups()? {
            if n > count {
                continue;
            }
            if is_dir {
                self.report_unremovable(&numbered(&self.path, n), "it is a directory");
                blocked.insert(n);
            } else {
                files.insert(n);
            }
        }
        let next_free = |blocked: &BTreeSet<u32>, mut i: u32| loop {
            if i >= count {
                return None;
            }
            i += 1;
            if !blocked.contains(&i) {
                return Some(i);
            }
        };
        // The backups in the way: from the first free name up, while each next free name
        // holds one.
        let mut chain = Vec::new();
        let mut at = next_free(&blocked, 0);
        while let Some(n) = at.filter(|n| files.contains(n)) {
            chain.push(n);
            at = next_free(&blocked, n);
        }
        for &n in chain.iter().rev() {
            let from = numbered(&self.path, n);
            let moved = match next_free(&blocked, n) {
                Some(to) => fs::rename(&from, numbered(&self.path, to)),
                None => fs::remove_file(&from),
            };
            match moved {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    // Left where it is; the others rotate around it.
                    self.report_unremovable(&from, &e.to_string());
                    blocked.insert(n);
                }
            }
        }
        match next_free(&blocked, 0) {
            Some(first) => fs::rename(&self.path, numbered(&self.path, first)),
            None => Err(io::Error::other(format!(
                "every backup name up to `{}` is taken by something that cannot be removed",
                numbered(&self.path, count).display()
            ))),
        }
    }

    /// Time rotation: the live file is renamed with the time it was opened, and the newest
    /// `backup_count` time-rotated files are kept.
    fn rotate_time(&mut self) -> io::Result<()> {
        // The next suffix after the highest one of this stamp, never a name pruning freed:
        // suffixes grow in creation order within a second.
        let stamp = stamp(self.opened_unix);
        let backups = self.timed_backups()?;
        let target = match backups.iter().filter(|(b, _)| b.stamp == stamp).max() {
            None => timed(&self.path, &stamp, 0),
            Some((last, _)) => timed(&self.path, &stamp, last.suffix + 1),
        };
        fs::rename(&self.path, &target)?;
        if self.backup_count > 0 {
            self.made.extend(target.file_name().map(ToOwned::to_owned));
            // The rotation is done; a directory that cannot be read now is pruned at the next.
            let _ = self.prune_timed();
        }
        Ok(())
    }

    /// Reports, once per name, a backup that cannot be removed or moved.
    #[cold]
    fn report_unremovable(&mut self, path: &Path, why: &str) {
        if self.reported.insert(path.to_path_buf()) {
            crate::error::report(format_args!(
                "kolog: rotating_file `{}`: cannot remove or move `{}` ({why}); its backups skip that name",
                self.path.display(),
                path.display()
            ));
        }
    }

    /// The time-rotated backups of this file (`app.log.<stamp>` and `app.log.<stamp>.<n>`),
    /// each with whether it is a directory.
    fn timed_backups(&self) -> io::Result<Vec<(TimedBackup, bool)>> {
        self.backups(TimedBackup::parse)
    }

    /// The numbers of this file's size-rotated backups (`app.log.<n>`, `n` ≥ 1 written as
    /// `numbered` writes it), each with whether it is a directory.
    fn numbered_backups(&self) -> io::Result<Vec<(u32, bool)>> {
        self.backups(|rest, _| {
            let n: u32 = rest.parse().ok()?;
            (n >= 1 && rest == n.to_string()).then_some(n)
        })
    }

    /// What `parse` makes of the files beside this one whose name continues it with a `.`
    /// (given what follows, and the file's path), each with whether it is a directory.
    fn backups<T>(&self, parse: impl Fn(&str, PathBuf) -> Option<T>) -> io::Result<Vec<(T, bool)>> {
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
                let parsed = parse(std::str::from_utf8(rest).ok()?, e.path())?;
                Some((parsed, e.file_type().is_ok_and(|t| t.is_dir())))
            })
            .collect())
    }

    /// Keeps the newest `backup_count` time-rotated files: by stamp and then suffix (numeric:
    /// `.10` is newer than `.9`), except that those this writer made are newer than the
    /// others, in the order it made them (the clock may have been stepped back). A directory with a backup's name is not one of them (it is
    /// reported once and left alone); a backup that cannot be removed is reported and
    /// skipped, and the others are still pruned.
    fn prune_timed(&mut self) -> io::Result<()> {
        let mut rotated = Vec::new();
        for (backup, is_dir) in self.timed_backups()? {
            if is_dir {
                self.report_unremovable(&backup.path, "it is a directory");
            } else {
                rotated.push(backup);
            }
        }
        // Oldest first: the others by stamp, then this writer's own in the order it made them.
        let made = |b: &TimedBackup| {
            let name = b.path.file_name();
            self.made.iter().position(|n| Some(n.as_os_str()) == name)
        };
        rotated.sort_by(|a, b| made(a).cmp(&made(b)).then_with(|| a.cmp(b)));
        let keep = self.backup_count as usize;
        if rotated.len() > keep {
            for old in &rotated[..rotated.len() - keep] {
                match fs::remove_file(&old.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => self.report_unremovable(&old.path, &e.to_string()),
                }
            }
        }
        let kept: HashSet<&OsStr> = rotated
            .iter()
            .rev()
            .take(keep)
            .filter_map(|b| b.path.file_name())
            .collect();
        self.made.retain(|n| kept.contains(n.as_os_str()));
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
                    run_start = start;
                    self.rotate(how)?;
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

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kolog-rotating-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn writer(path: &Path, max_bytes: u64, backup_count: u32) -> RotatingWriter {
        RotatingWriter::build(&RotatingFileParams {
            filename: path.to_owned(),
            max_bytes,
            backup_count,
            rotation_interval: None,
            mode: "a".into(),
            encoding: "utf-8".into(),
        })
        .unwrap()
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_default()
    }

    /// Only the backups in the way move: a missing `.1` (a rotation that failed after the
    /// shift, someone deleting it) is where the live file goes, and no backup is pruned for
    /// it. Retrying a rotation whose last step failed then costs no backup.
    #[test]
    fn a_gap_in_the_backups_stops_the_shift() {
        let dir = temp_dir("gap");
        let path = dir.join("app.log");
        fs::write(numbered(&path, 2), "two\n").unwrap();
        fs::write(numbered(&path, 3), "three\n").unwrap();
        let mut w = writer(&path, 10, 3);
        w.write(b"live one\n", &[9]).unwrap();
        w.write(b"live two\n", &[9]).unwrap();
        assert_eq!(read(&path), "live two\n");
        assert_eq!(read(&numbered(&path, 1)), "live one\n");
        assert_eq!(read(&numbered(&path, 2)), "two\n");
        assert_eq!(read(&numbered(&path, 3)), "three\n");
        // No gap: everything shifts, the oldest is pruned.
        w.write(b"live 333\n", &[9]).unwrap();
        assert_eq!(read(&path), "live 333\n");
        assert_eq!(read(&numbered(&path, 1)), "live two\n");
        assert_eq!(read(&numbered(&path, 2)), "live one\n");
        assert_eq!(read(&numbered(&path, 3)), "two\n");
        assert!(!numbered(&path, 4).exists());
        let _ = fs::remove_dir_all(dir);
    }

    /// The live file moved away by someone else just before a size rotation: the rotation
    /// starts a new live file instead of failing on the missing name, and renames nothing.
    #[test]
    fn a_live_file_moved_away_counts_as_rotated() {
        let dir = temp_dir("moved");
        let path = dir.join("app.log");
        let mut w = writer(&path, 20, 2);
        w.write(b"first 1\n", &[8]).unwrap();
        fs::rename(&path, dir.join("elsewhere")).unwrap();
        // Still within the once-a-second check: this one goes to the moved file.
        w.write(b"first 2\n", &[8]).unwrap();
        w.write(b"second\n", &[7]).unwrap();
        assert_eq!(read(&dir.join("elsewhere")), "first 1\nfirst 2\n");
        assert_eq!(read(&path), "second\n");
        assert!(!numbered(&path, 1).exists());
        let _ = fs::remove_dir_all(dir);
    }

    /// A failed rotation (every backup name a directory) keeps writing into the live file and
    /// tries again only after [`ROTATION_RETRY`].
    #[test]
    fn a_failed_rotation_is_retried_a_second_later() {
        let dir = temp_dir("retry");
        let path = dir.join("app.log");
        fs::create_dir(numbered(&path, 1)).unwrap();
        let mut w = writer(&path, 10, 1);
        for _ in 0..5 {
            w.write(b"record\n", &[7]).unwrap();
        }
        assert_eq!(read(&path), "record\n".repeat(5));
        assert_eq!(w.failed_rotations, 1, "tried once, then waits");
        fs::remove_dir(numbered(&path, 1)).unwrap();
        w.retry_at = Some(Instant::now());
        w.write(b"after\n", &[6]).unwrap();
        assert_eq!(read(&path), "after\n");
        assert_eq!(read(&numbered(&path, 1)), "record\n".repeat(5));
        assert_eq!((w.failed_rotations, w.retry_at), (0, None));
        let _ = fs::remove_dir_all(dir);
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
