//! `file`: a log file opened on first write, appended to or truncated per `mode`, written with
//! one `write_all` per batch. A truncating file is emptied when the system starts (see
//! [`super::truncate_at_start`]), so handlers sharing it all append.
//!
//! Faults: a batch whose write fails (disk full, file-size limit) is cut back off the file, so
//! the file never holds a partial record, and its records are counted as failed by the handler;
//! the next batch tries again. At most once a second the writer checks that the path still
//! names the file it has open; if the file was deleted or replaced, it is reopened (created).

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{WriteError, Writer};
use crate::config::FileParams;
use crate::{Error, ErrorKind};

/// How often the writer checks that its path still names the open file.
pub(crate) const IDENTITY_CHECK: Duration = Duration::from_secs(1);

/// Checks, without creating anything, that `path` can be a log file: a name without NUL
/// bytes, not ending in `/` or `/.`, no longer than its file system allows, whose directory
/// exists and is a directory, and which is not a directory itself.
pub(crate) fn check_path(path: &Path, service: &'static str) -> Result<(), Error> {
    let io_error = |msg: String| Error::new(ErrorKind::Handler, "HANDLER", service, "IO", msg);
    if path.as_os_str().is_empty() {
        return Err(io_error("the log file name is empty".into()));
    }
    if path.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(io_error(format!(
            "Failed to open the file at path `{}`: the name contains a NUL byte",
            path.display()
        )));
    }
    // `app.log/` and `app.log/.` name a directory, whether or not one exists: no file can be
    // created there.
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.ends_with(b"/") || bytes.ends_with(b"/.") {
        return Err(io_error(format!(
            "Failed to open the file at path `{}`: it names a directory",
            path.display()
        )));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(io_error(format!(
                "Failed to open the file at path `{}`: `{}` is not a directory",
                path.display(),
                parent.display()
            )))
        }
        Err(e) => {
            return Err(io_error(format!(
                "Failed to open the file at path `{}`: directory `{}`: {e}",
                path.display(),
                parent.display()
            ))
            .with_source(e))
        }
    }
    if path.is_dir() {
        return Err(io_error(format!(
            "Failed to open the file at path `{}`: it is a directory",
            path.display()
        )));
    }
    if let Some(name) = path.file_name() {
        let max = name_max(path);
        if name.len() > max {
            return Err(io_error(format!(
                "Failed to open the file at path `{}`: the file name is {} bytes long, more \
                 than the {max} its file system allows",
                path.display(),
                name.len()
            )));
        }
    }
    Ok(())
}

/// The longest file name the file system of `path`'s directory takes (`NAME_MAX`).
pub(crate) fn name_max(path: &Path) -> usize {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) {
            // SAFETY: `c` is a NUL-terminated path valid for the call; `pathconf` only reads it.
            let n = unsafe { libc::pathconf(c.as_ptr(), libc::_PC_NAME_MAX) };
            if n > 0 {
                return n as usize;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    255
}

/// Truncates `path` to zero length if it is an existing regular file.
pub(crate) fn empty_if_regular(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => OpenOptions::new().write(true).open(path)?.set_len(0),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opening a named pipe for writing waits until something opens it for reading, which may be
/// never: the handler's I/O thread, `flush()` and `shutdown()` would wait with it. For a pipe,
/// a first open that does not wait tells whether a reader is there (`ENXIO` if not: the batch
/// fails, is counted, and the next one tries again); the open that follows then returns at
/// once.
fn fail_if_nobody_reads(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
        if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
            OpenOptions::new()
                .append(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(path)?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// An open log file and its length.
pub(crate) struct OpenFile {
    pub file: File,
    pub len: u64,
    checked: Instant,
}

impl OpenFile {
    /// Opens (creating) `path`, truncating it when `truncate`. Always in append mode, so each
    /// write goes to the file's current end: a file truncated by someone else meanwhile
    /// (logrotate's `copytruncate`) gets no hole of NUL bytes.
    pub(crate) fn open(path: &Path, truncate: bool) -> io::Result<OpenFile> {
        fail_if_nobody_reads(path)?;
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        if truncate {
            file.set_len(0)?;
        }
        let len = file.metadata()?.len();
        Ok(OpenFile {
            file,
            len,
            checked: Instant::now(),
        })
    }

    /// Appends `buf` whole or not at all: on error, what was written of it is cut off again.
    pub(crate) fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut written = 0;
        while written < buf.len() {
            match self.file.write(&buf[written..]) {
                Ok(0) => return Err(self.cut_back(written, io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.cut_back(written, e)),
            }
        }
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Removes the `written` bytes of a failed append from the end of the file and returns
    /// `error`. In append mode they are the file's last bytes wherever it ended, also when
    /// someone else truncated it meanwhile (then `len` is no longer where it ends).
    #[cold]
    fn cut_back(&mut self, written: usize, error: io::Error) -> io::Error {
        if written > 0 {
            if let Ok(m) = self.file.metadata() {
                let _ = self.file.set_len(m.len().saturating_sub(written as u64));
            }
        }
        error
    }

    /// Whether `path` no longer names this file (deleted or replaced); checked at most once a
    /// second.
    pub(crate) fn replaced(&mut self, path: &Path) -> bool {
        if self.checked.elapsed() < IDENTITY_CHECK {
            return false;
        }
        self.checked = Instant::now();
        self.is_replaced(path)
    }

    /// Whether `path` no longer names this file (deleted, moved away or replaced), checked
    /// now.
    pub(crate) fn is_replaced(&self, path: &Path) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            match (std::fs::metadata(path), self.file.metadata()) {
                (Ok(p), Ok(f)) => p.ino() != f.ino() || p.dev() != f.dev(),
                _ => true,
            }
        }
        #[cfg(not(unix))]
        {
            !path.exists()
        }
    }
}

pub(crate) struct FileWriter {
    path: PathBuf,
    truncate: bool,
    file: Option<OpenFile>,
}

impl FileWriter {
    pub(crate) fn build(params: &FileParams) -> Result<FileWriter, Error> {
        check_path(&params.filename, "FileHandler")?;
        Ok(FileWriter {
            path: params.filename.clone(),
            truncate: params.truncates(),
            file: None,
        })
    }

    fn open(&mut self) -> io::Result<&mut OpenFile> {
        if self.file.as_mut().is_some_and(|f| f.replaced(&self.path)) {
            self.file = None;
        }
        if self.file.is_none() {
            // Truncate once: a reopen after an error or a deletion appends.
            self.file = Some(OpenFile::open(&self.path, self.truncate)?);
            self.truncate = false;
        }
        Ok(self.file.as_mut().expect("just opened"))
    }
}

impl Writer for FileWriter {
    fn offload(&self) -> bool {
        true
    }
    fn write(&mut self, buf: &[u8], _ends: &[usize]) -> Result<(), WriteError> {
        let result = self.open().and_then(|f| f.append(buf));
        if result.is_err() {
            // Reopen on the next batch (the file may have been deleted or the disk freed).
            self.file = None;
        }
        Ok(result?)
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
}
