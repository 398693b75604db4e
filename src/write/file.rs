//! `file`: a log file opened on first write, appended to or truncated per `mode`, written with
//! one `write_all` per batch.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::Writer;
use crate::config::FileParams;
use crate::{Error, ErrorKind};

/// Checks, without creating anything, that `path` can be a log file: its directory exists and
/// is a directory, and the path itself is not a directory.
pub(crate) fn check_path(path: &Path, service: &'static str) -> Result<(), Error> {
    let io_error = |msg: String| Error::new(ErrorKind::Handler, "HANDLER", service, "IO", msg);
    if path.as_os_str().is_empty() {
        return Err(io_error("the log file name is empty".into()));
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
    Ok(())
}

pub(crate) struct FileWriter {
    path: PathBuf,
    truncate: bool,
    file: Option<File>,
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

    fn open(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let mut o = OpenOptions::new();
            o.create(true);
            if self.truncate {
                o.write(true).truncate(true);
                // Truncate once: a reopen after an error appends.
                self.truncate = false;
            } else {
                o.append(true);
            }
            self.file = Some(o.open(&self.path)?);
        }
        Ok(self.file.as_mut().expect("just opened"))
    }
}

impl Writer for FileWriter {
    fn write(&mut self, buf: &[u8], _ends: &[usize]) -> io::Result<()> {
        let result = self.open().and_then(|f| f.write_all(buf));
        if result.is_err() {
            // Reopen on the next batch (the file may have been deleted or the disk freed).
            self.file = None;
        }
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        self.file = None;
        Ok(())
    }
}
