//! The memory-mapped variant of the `file` writer, kept for measurement (see PERF.md): records
//! are copied into a mapped window of the file that grows in 16 MiB chunks, allocated before
//! they are mapped (a full disk fails the batch instead of raising SIGBUS); on flush and on
//! close the file is truncated to its real length. A crash leaves a zero-filled tail after the
//! records written since the last flush, which the next open in append mode trims, so the file
//! holds only complete lines. As the `file` writer, it checks at most once a second that its
//! path still names the file it has open, and starts a new one if the file was deleted or
//! moved away.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use memmap2::MmapMut;

use super::file::IDENTITY_CHECK;

use super::{WriteError, Writer};

/// Bytes the file grows by when the mapped window is full.
const CHUNK: u64 = 16 << 20;

pub(crate) struct MmapWriter {
    path: PathBuf,
    truncate: bool,
    file: Option<File>,
    map: Option<MmapMut>,
    /// File offset where the mapped window starts (a multiple of the page size).
    window_start: u64,
    /// Logical length of the file: bytes of records written.
    len: u64,
    /// When the path was last checked to name the open file.
    checked: Instant,
}

/// Length of `file` without a trailing run of NUL bytes (the unwritten tail of a crashed
/// mapped writer).
fn trimmed_len(file: &mut File) -> io::Result<u64> {
    let mut end = file.metadata()?.len();
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let n = buf.len().min(end as usize);
        file.seek(SeekFrom::Start(end - n as u64))?;
        file.read_exact(&mut buf[..n])?;
        match buf[..n].iter().rposition(|&b| b != 0) {
            Some(i) => return Ok(end - n as u64 + i as u64 + 1),
            None => end -= n as u64,
        }
    }
    Ok(0)
}

/// Extends `file` to at least `end` bytes with the blocks of `[from, end)` allocated, so stores
/// through a map of them cannot fault for lack of space. On failure the file may have grown;
/// the writer cuts it back to its logical length.
#[cfg(unix)]
fn allocate(file: &File, from: u64, end: u64) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let (Ok(offset), Ok(len)) = (
        libc::off_t::try_from(from),
        libc::off_t::try_from(end - from),
    ) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    if len == 0 {
        return Ok(());
    }
    loop {
        // SAFETY: `file` is an open descriptor for the call; `posix_fallocate` only allocates
        // blocks of it (emulated by writing into the range where the file system cannot).
        match unsafe { libc::posix_fallocate(file.as_raw_fd(), offset, len) } {
            0 => return Ok(()),
            libc::EINTR => {}
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

#[cfg(not(unix))]
fn allocate(file: &File, _from: u64, end: u64) -> io::Result<()> {
    if file.metadata()?.len() < end {
        file.set_len(end)?;
    }
    Ok(())
}

impl MmapWriter {
    pub(crate) fn new(path: PathBuf, truncate: bool) -> MmapWriter {
        MmapWriter {
            path,
            truncate,
            file: None,
            map: None,
            window_start: 0,
            len: 0,
            checked: Instant::now(),
        }
    }

    /// Whether `path` no longer names the open file (deleted or moved away); checked at most
    /// once a second.
    fn replaced(&mut self) -> bool {
        let Some(file) = &self.file else {
            return false;
        };
        if self.checked.elapsed() < IDENTITY_CHECK {
            return false;
        }
        self.checked = Instant::now();
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            match (std::fs::metadata(&self.path), file.metadata()) {
                (Ok(p), Ok(f)) => p.ino() != f.ino() || p.dev() != f.dev(),
                _ => true,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = file;
            !self.path.exists()
        }
    }

    fn open(&mut self) -> io::Result<()> {
        if self.replaced() {
            // Trimmed and released; the next file starts at the path.
            let _ = self.finish();
        }
        if self.file.is_some() {
            return Ok(());
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(self.truncate)
            .open(&self.path)?;
        self.truncate = false;
        self.len = trimmed_len(&mut file)?;
        file.set_len(self.len)?;
        self.file = Some(file);
        self.map = None;
        self.checked = Instant::now();
        Ok(())
    }

    /// Maps a window that starts at or before `len` and has room for `need` more bytes. The
    /// file's blocks under the window are allocated first: a store through the map into a
    /// page the file system has no block for (a full disk) is a SIGBUS that kills the
    /// process, while a failed allocation is an error the batch is counted failed with. A
    /// whole chunk is asked for; when the disk has no room for one, just the pages `need`
    /// takes.
    fn remap(&mut self, need: u64) -> io::Result<()> {
        self.map = None;
        let file = self.file.as_ref().expect("opened");
        let page = 4096;
        let start = self.len / page * page;
        let chunk = (self.len - start + need).div_ceil(CHUNK) * CHUNK;
        let size = match allocate(file, self.len, start + chunk) {
            Ok(()) => chunk,
            Err(_) => {
                let pages = (self.len - start + need).div_ceil(page) * page;
                allocate(file, self.len, start + pages)?;
                pages
            }
        };
        // SAFETY: the map covers [start, start + size) of a file this writer opened read-write
        // and just extended to that length with its blocks allocated. Only this writer writes
        // it; other processes truncating the file under us would make access fault, as with
        // any mapped file.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(start)
                .len(size as usize)
                .map_mut(file)?
        };
        self.window_start = start;
        self.map = Some(map);
        Ok(())
    }

    /// Cuts the file back to its logical length, so a reader sees the records and no zero
    /// tail after them; the next write maps a new window (the old one would reach past the
    /// end of the file).
    fn trim(&mut self) -> io::Result<()> {
        if let Some(map) = self.map.take() {
            map.flush_async()?;
        }
        if let Some(file) = &self.file {
            file.set_len(self.len)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let trimmed = self.trim();
        self.file = None;
        trimmed
    }
}

impl Writer for MmapWriter {
    fn offload(&self) -> bool {
        true
    }
    fn write(&mut self, buf: &[u8], _ends: &[usize]) -> Result<(), WriteError> {
        let result = (|| -> io::Result<()> {
            self.open()?;
            let fits = |w: &MmapWriter| {
                w.map
                    .as_ref()
                    .is_some_and(|m| w.len + buf.len() as u64 <= w.window_start + m.len() as u64)
            };
            if !fits(self) {
                self.remap(buf.len() as u64)?;
            }
            let at = (self.len - self.window_start) as usize;
            let map = self.map.as_mut().expect("mapped");
            map[at..at + buf.len()].copy_from_slice(buf);
            self.len += buf.len() as u64;
            Ok(())
        })();
        if result.is_err() {
            let _ = self.finish();
        }
        Ok(result?)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.trim()
    }

    fn close(&mut self) -> io::Result<()> {
        self.finish()
    }

    fn file(&self) -> Option<(&Path, bool)> {
        Some((&self.path, self.truncate))
    }

    fn truncated(&mut self) {
        self.truncate = false;
    }
}

impl Drop for MmapWriter {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("kolog-mmap-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn writes_across_windows_and_truncates_on_close() {
        let path = temp("windows");
        let mut w = MmapWriter::new(path.clone(), true);
        let line = vec![b'x'; 1023];
        let mut expected = Vec::new();
        for _ in 0..20_000 {
            let mut rec = line.clone();
            rec.push(b'\n');
            w.write(&rec, &[rec.len()]).unwrap();
            expected.extend_from_slice(&rec);
        }
        w.close().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        let _ = std::fs::remove_file(path);
    }

    /// As the `file` writer: a deleted or moved log file is noticed (at most a second later)
    /// and a new one started, instead of writing on into a file nobody will read.
    #[test]
    fn a_deleted_or_moved_file_is_replaced() {
        for moved in [false, true] {
            let path = temp(&format!("replaced-{moved}"));
            let elsewhere = path.with_extension("moved");
            let mut w = MmapWriter::new(path.clone(), true);
            w.write(b"one\n", &[4]).unwrap();
            w.flush().unwrap();
            if moved {
                std::fs::rename(&path, &elsewhere).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
            // As if a second had passed.
            w.checked -= IDENTITY_CHECK;
            w.write(b"two\n", &[4]).unwrap();
            w.close().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"two\n");
            if moved {
                assert_eq!(std::fs::read(&elsewhere).unwrap(), b"one\n");
                let _ = std::fs::remove_file(elsewhere);
            }
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn a_crash_leaves_a_zero_tail_that_the_next_open_trims() {
        let path = temp("crash");
        let mut w = MmapWriter::new(path.clone(), true);
        w.write(b"one\ntwo\n", &[4, 8]).unwrap();
        // Simulate SIGKILL: the mapping's pages reach the file, nothing else runs.
        w.map.as_ref().unwrap().flush().unwrap();
        std::mem::forget(w);
        let raw = std::fs::read(&path).unwrap();
        assert_eq!(
            raw.len() as u64,
            CHUNK,
            "the grown, unwritten tail is zeros"
        );
        assert!(raw[8..].iter().all(|&b| b == 0));
        let mut w = MmapWriter::new(path.clone(), false);
        w.write(b"three\n", &[6]).unwrap();
        w.close().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\nthree\n");
        let _ = std::fs::remove_file(path);
    }
}
