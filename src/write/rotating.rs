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

use super::file::{check_path, OpenFile};
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
                for i in (1..self.backup_count).rev() {
                    let from = numbered(i);
                    if from.exists() {
                        fs::rename(&from, numbered(i + 1))?;
                    }
                }
                fs::rename(&self.path, numbered(1))?;
            }
            Rotation::Time => {
                let mut target = timed(&self.path, self.opened_unix);
                let mut n = 1;
                while target.exists() {
                    target = timed(&self.path, self.opened_unix).with_extension(format!(
                        "{}.{n}",
                        target_ext(&self.path, self.opened_unix)
                    ));
                    n += 1;
                }
                fs::rename(&self.path, target)?;
                if self.backup_count > 0 {
                    self.prune_timed()?;
                }
            }
        }
        self.open()
    }

    /// Keeps the newest `backup_count` time-rotated files.
    fn prune_timed(&self) -> io::Result<()> {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Ok(());
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let prefix = format!("{}.", name.to_string_lossy());
        let mut rotated: Vec<PathBuf> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.strip_prefix(&prefix).is_some_and(|rest| {
                    rest.len() >= 19 && rest.as_bytes()[4] == b'-' && rest.as_bytes()[10] == b'_'
                })
            })
            .map(|e| e.path())
            .collect();
        rotated.sort();
        let keep = self.backup_count as usize;
        if rotated.len() > keep {
            for old in &rotated[..rotated.len() - keep] {
                fs::remove_file(old)?;
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

fn timed(path: &Path, unix: u64) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{}", stamp(unix)));
    PathBuf::from(s)
}

fn target_ext(path: &Path, unix: u64) -> String {
    timed(path, unix)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default()
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
}
