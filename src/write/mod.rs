//! Writers: the destinations handlers write rendered batches to.
//!
//! A writer receives a buffer of whole rendered records and the end offset of each record in
//! it, so a rotating writer can rotate between records and never split one.

pub(crate) mod file;
pub(crate) mod mmap;
pub(crate) mod rotating;
pub(crate) mod sink;

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::config::HandlerKind;
use crate::{Error, ErrorKind};

/// A batch write that failed, with how many of the batch's records (from the start) had
/// reached the destination before it failed: only the rest are lost.
#[derive(Debug)]
pub(crate) struct WriteError {
    pub(crate) error: io::Error,
    pub(crate) written: usize,
}

impl From<io::Error> for WriteError {
    fn from(error: io::Error) -> WriteError {
        WriteError { error, written: 0 }
    }
}

/// A destination for rendered records.
pub(crate) trait Writer: Send {
    /// Writes `buf`, which holds whole records; `ends[i]` is the end offset of record `i`.
    fn write(&mut self, buf: &[u8], ends: &[usize]) -> Result<(), WriteError>;
    /// Makes written data visible to readers of the destination (no fsync).
    fn flush(&mut self) -> io::Result<()>;
    /// Flushes and releases the destination.
    fn close(&mut self) -> io::Result<()> {
        self.flush()
    }
    /// Whether batches are written by an I/O thread of their own (files and streams: the
    /// drainer renders the next batch meanwhile, and a destination that stops taking bytes
    /// holds only that thread).
    fn offload(&self) -> bool {
        false
    }
    /// Whether the destination throws records away (the `null` handler): they are not even
    /// rendered.
    fn discards(&self) -> bool {
        false
    }
    /// Whether the destination is a terminal (coloured output).
    fn is_terminal(&self) -> bool {
        false
    }
    /// The file this writer writes, and whether it is still to empty it at open (`mode: "w"`,
    /// `override_existing`).
    fn file(&self) -> Option<(&Path, bool)> {
        None
    }
    /// The file was emptied for this writer: its first open appends.
    fn truncated(&mut self) {}
    /// Whether the writer renames its file away (a `rotating_file` that rotates by size or
    /// time).
    fn rotates(&self) -> bool {
        false
    }
}

/// The identity of a handler's file, to find two handlers on one file however its name is
/// spelled. `keys`: the path with its directory made canonical (`a.log`, `./a.log`,
/// `dir/../a.log` and an absolute spelling are one file; the path as written if the directory
/// cannot be resolved), and, when the file exists, its canonical path (symlinks to it
/// resolved). `id`: the (device, inode) of the file the path names now, if it exists (a
/// symlink or a hard link to the file is the same file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    keys: Vec<PathBuf>,
    id: Option<(u64, u64)>,
}

impl FileIdentity {
    pub(crate) fn of(path: &Path) -> FileIdentity {
        let mut keys = vec![file_key(path)];
        if let Ok(full) = std::fs::canonicalize(path) {
            if full != keys[0] {
                keys.push(full);
            }
        }
        FileIdentity {
            keys,
            id: file_id(path),
        }
    }

    /// Whether `self` and `other` name one file: a key in common, or the same existing file.
    pub(crate) fn same(&self, other: &FileIdentity) -> bool {
        self.keys.iter().any(|k| other.keys.contains(k))
            || (self.id.is_some() && self.id == other.id)
    }

    /// Whether `self` names the file a handler registered as `other` writes, looking at what
    /// `other`'s names name now (the file may have been created, or rotated, since it was
    /// registered).
    fn same_now(&self, other: &FileIdentity) -> bool {
        self.keys.iter().any(|k| other.keys.contains(k))
            || (self.id.is_some() && other.keys.iter().any(|k| file_id(k) == self.id))
    }
}

/// A handler's file name with its directory made canonical (see [`FileIdentity`]).
pub(crate) fn file_key(path: &Path) -> PathBuf {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (path.file_name(), std::fs::canonicalize(parent)) {
        (Some(name), Ok(dir)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// The (device, inode) of the file `path` names (following symlinks), if it exists.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The files the handlers of a queue manager write, each with the number of open (not yet
/// closed) handlers writing it: a later factory's truncating handler must not empty a file
/// one of them writes (see [`truncate_at_start`]). A handler holds a [`FileLease`] on its file
/// and gives it back when it closes, so once every handler of a file has closed, a later
/// factory truncates it as configured.
#[derive(Default)]
pub(crate) struct LiveFiles {
    files: Vec<(FileIdentity, usize)>,
}

impl LiveFiles {
    /// The entry of the file `file` names, if a handler writes it.
    fn find(&self, file: &FileIdentity) -> Option<usize> {
        self.files
            .iter()
            .position(|(registered, _)| file.same_now(registered))
    }

    /// Whether a handler writes the file `file` names.
    pub(crate) fn contains(&self, file: &FileIdentity) -> bool {
        self.find(file).is_some()
    }

    /// Registers a handler writing `file`; returns the entry's identity, for the release.
    fn acquire(&mut self, file: &FileIdentity) -> FileIdentity {
        match self.find(file) {
            Some(i) => {
                self.files[i].1 += 1;
                self.files[i].0.clone()
            }
            None => {
                self.files.push((file.clone(), 1));
                file.clone()
            }
        }
    }

    fn release(&mut self, file: &FileIdentity) {
        if let Some(i) = self.files.iter().position(|(f, _)| f == file) {
            self.files[i].1 -= 1;
            if self.files[i].1 == 0 {
                self.files.swap_remove(i);
            }
        }
    }
}

/// A handler's registration of its file in the queue manager's [`LiveFiles`], given back when
/// dropped (the handler closed its file, or was never installed).
pub(crate) struct FileLease {
    files: std::sync::Weak<std::sync::Mutex<LiveFiles>>,
    file: FileIdentity,
}

impl Drop for FileLease {
    fn drop(&mut self) {
        if let Some(files) = self.files.upgrade() {
            files
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .release(&self.file);
        }
    }
}

/// Refuses a rotating handler (one that rotates by size or time) whose file another handler of the same document also writes
/// (`writers`, with their labels): each would rotate by its own size count and rename the file
/// from under the other, which would go on writing into the renamed backup, and records would
/// be lost when backups are pruned. Handlers that only append may share a file. Handlers of
/// another factory on the same queue manager are not compared: a factory built to replace one
/// (a reloaded configuration) names the same files while the old one is being retired. The
/// error comes with the index (in `writers`) of the handler refused.
pub(crate) fn check_shared_files<'a>(
    writers: impl IntoIterator<Item = (&'a str, &'a dyn Writer)>,
) -> Result<(), (usize, Error)> {
    let mut seen: Vec<(FileIdentity, Vec<(&str, bool)>)> = Vec::new();
    for (i, (label, writer)) in writers.into_iter().enumerate() {
        let Some((path, _)) = writer.file() else {
            continue;
        };
        let rotates = writer.rotates();
        let file = FileIdentity::of(path);
        let used = match seen.iter().position(|(f, _)| f.same(&file)) {
            Some(j) => &mut seen[j].1,
            None => {
                seen.push((file, Vec::new()));
                &mut seen.last_mut().expect("just pushed").1
            }
        };
        if let Some((other, _)) = used.iter().find(|(_, r)| rotates || *r) {
            return Err((
                i,
                Error::new(
                    ErrorKind::Handler,
                    "HANDLER",
                    "RotatingFileHandler",
                    "VALIDATION",
                    format!(
                        "handlers {other} and {label} both write `{}`, and a rotating_file handler \
                         cannot share its file: give each its own filename",
                        path.display()
                    ),
                ),
            ));
        }
        used.push((label, rotates));
    }
    Ok(())
}

/// Empties the files of the truncating writers among `writers` (a factory's, just built),
/// each file once, before any of them writes, so that they all append: a file shared by
/// several handlers in `"w"` mode is truncated when they start, not at each handler's first
/// write, which would cut off the lines another handler had written. `files` holds the files
/// the system's open handlers already write (from earlier factories on the same queue
/// manager): those are not emptied under them, however the name is spelled (see
/// [`FileIdentity`]). Each file writer gets a lease on its file in `files` (in the order of
/// `writers`; `None` for other writers), which its handler gives back when it closes. Only
/// existing regular files are emptied (a missing one is created by the first write; a FIFO or
/// device is never opened here). A writer whose file could not be emptied truncates it at its
/// own open, as it would have.
pub(crate) fn truncate_at_start<'a>(
    writers: impl IntoIterator<Item = &'a mut Box<dyn Writer>>,
    files: &std::sync::Arc<std::sync::Mutex<LiveFiles>>,
) -> Vec<Option<FileLease>> {
    let mut live = files.lock().unwrap_or_else(|e| e.into_inner());
    let mut emptied: Vec<FileIdentity> = Vec::new();
    let mut started = Vec::new();
    let mut leases = Vec::new();
    for writer in writers {
        let Some((path, pending)) = writer.file() else {
            leases.push(None);
            continue;
        };
        let file = FileIdentity::of(path);
        if pending
            && (live.contains(&file)
                || emptied.iter().any(|e| e.same(&file))
                || file::empty_if_regular(path).is_ok())
        {
            emptied.push(file.clone());
            writer.truncated();
        }
        started.push(file);
        leases.push(Some(()));
    }
    let mut started = started.into_iter();
    leases
        .into_iter()
        .map(|l| {
            l.map(|()| {
                let file = started.next().expect("one per file writer");
                FileLease {
                    files: std::sync::Arc::downgrade(files),
                    file: live.acquire(&file),
                }
            })
        })
        .collect()
}

/// Blocks SIGPIPE and SIGXFSZ in the calling thread (kolog's drainer and I/O threads, which
/// write to the destinations). A write into a pipe or FIFO whose reader has gone then fails
/// with `EPIPE`, and one past the process's file-size limit (`ulimit -f`) with `EFBIG`, both
/// counted as failed records, instead of raising a signal whose default action kills the
/// process (Rust programs ignore SIGPIPE by default, but many CLI programs restore it, to end
/// quietly under `| head`; nothing ignores SIGXFSZ). Both signals are directed at the writing
/// thread, so blocking them there leaves the rest of the program's handling as it was.
pub(crate) fn block_write_signals() {
    #[cfg(unix)]
    // SAFETY: `set` is initialised by `sigemptyset` before use and lives across the calls;
    // `pthread_sigmask` changes only the calling thread's mask and accepts a null old set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::sigaddset(&mut set, libc::SIGXFSZ);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Builds the writer for a handler. Checks what can be checked up front (the directory of a
/// file exists); the file itself is opened on first write.
pub(crate) fn build(kind: &HandlerKind) -> Result<Box<dyn Writer>, Error> {
    match kind {
        HandlerKind::Null => Ok(Box::new(NullWriter)),
        HandlerKind::Stream(p) => Ok(Box::new(StreamWriter {
            use_stderr: p.use_stderr,
            cut_off: false,
        })),
        HandlerKind::File(p) => {
            let writer = file::FileWriter::build(p)?;
            // Measurement switch for PERF.md: the memory-mapped variant of the same handler.
            if std::env::var_os("KOLOG_FILE_WRITER").is_some_and(|v| v == "mmap") {
                return Ok(Box::new(mmap::MmapWriter::new(
                    p.filename.clone(),
                    p.truncates(),
                )));
            }
            Ok(Box::new(writer))
        }
        HandlerKind::RotatingFile(p) => Ok(Box::new(rotating::RotatingWriter::build(p)?)),
    }
}

/// `null`: discards everything.
pub(crate) struct NullWriter;

impl Writer for NullWriter {
    fn write(&mut self, _buf: &[u8], _ends: &[usize]) -> Result<(), WriteError> {
        Ok(())
    }
    fn discards(&self) -> bool {
        true
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `stream`: stdout or stderr, one `write_all` per batch.
///
/// A write that fails part way (a full disk under `prog > file`, a pipe closed) leaves part of
/// a record, which a stream cannot take back: the records before it count as written, the
/// rest of the batch as failed, and the next write starts with a newline ending the cut-off
/// line, so the records after it start lines of their own.
pub(crate) struct StreamWriter {
    use_stderr: bool,
    /// The last write ended inside a record.
    cut_off: bool,
}

impl Writer for StreamWriter {
    /// On an I/O thread like files: stdout or stderr may be a pipe that stops being read (a
    /// stalled log collector), and a write that waits there must not hold the drainer, so
    /// `shutdown()` still returns within `drain_timeout`.
    fn offload(&self) -> bool {
        true
    }
    fn write(&mut self, buf: &[u8], ends: &[usize]) -> Result<(), WriteError> {
        let newline: &[u8] = if self.cut_off { b"\n" } else { b"" };
        let result = if self.use_stderr {
            write_stream(io::stderr().lock(), 2, newline, buf)
        } else {
            write_stream(io::stdout().lock(), 1, newline, buf)
        };
        match result {
            Ok(()) => {
                self.cut_off = false;
                Ok(())
            }
            Err((error, done)) => {
                // `done` counts the newline first.
                let Some(done) = done.checked_sub(newline.len()) else {
                    return Err(error.into());
                };
                let written = ends.iter().take_while(|&&end| end <= done).count();
                self.cut_off = done > 0 && buf[done - 1] != b'\n';
                Err(WriteError { error, written })
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.use_stderr {
            io::stderr().flush()
        } else {
            io::stdout().flush()
        }
    }
    fn is_terminal(&self) -> bool {
        use std::io::IsTerminal;
        if self.use_stderr {
            io::stderr().is_terminal()
        } else {
            io::stdout().is_terminal()
        }
    }
}

/// Writes `first` and then `buf` to the standard stream `stream` (descriptor `fd`) while
/// holding its lock, after what the program printed there and std still buffers. On Unix the
/// bytes go straight to the descriptor: std reports a write to a closed stdout or stderr
/// (`EBADF`) as successful, and records that reach nobody must be counted as failed, not
/// written. A descriptor in non-blocking mode is waited on when full, as a blocking one would
/// be. On error, how many bytes of `first` and `buf` went out.
#[cfg(unix)]
fn write_stream(
    mut stream: impl io::Write,
    fd: i32,
    first: &[u8],
    buf: &[u8],
) -> Result<(), (io::Error, usize)> {
    stream.flush().map_err(|e| (e, 0))?;
    let mut done = 0;
    for mut part in [first, buf] {
        while !part.is_empty() {
            // SAFETY: `part` is valid for reads of `part.len()` bytes for the whole call;
            // `write` only reads them.
            let n = unsafe { libc::write(fd, part.as_ptr().cast(), part.len()) };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    // A non-blocking descriptor (set by the program or a parent sharing it)
                    // whose pipe is full: wait for room, as a blocking write would.
                    io::ErrorKind::WouldBlock => {
                        wait_writable(fd);
                        continue;
                    }
                    _ => return Err((e, done)),
                }
            }
            if n == 0 {
                return Err((io::ErrorKind::WriteZero.into(), done));
            }
            done += n as usize;
            part = &part[n as usize..];
        }
    }
    Ok(())
}

/// Waits until descriptor `fd` takes bytes again (or reports an error or hang-up, which the
/// next write then returns).
#[cfg(unix)]
fn wait_writable(fd: i32) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd for the call; an interrupted poll is simply retried by
    // the write that follows.
    unsafe { libc::poll(&mut p, 1, -1) };
}

#[cfg(not(unix))]
fn write_stream(
    mut stream: impl io::Write,
    _fd: i32,
    first: &[u8],
    buf: &[u8],
) -> Result<(), (io::Error, usize)> {
    stream.write_all(first).map_err(|e| (e, 0))?;
    stream.write_all(buf).map_err(|e| (e, first.len()))
}
