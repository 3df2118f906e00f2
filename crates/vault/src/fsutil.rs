//! Crash-safe file replacement: write a temporary file beside the target, fsync it, rename it
//! over the target, fsync the directory. A crash at any point leaves the old or the new file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Suffix of files being written; the sweeper removes stale ones.
const TEMP_SUFFIX: &str = ".tmp";

/// A file under construction that becomes visible under its final name only on `commit`.
/// Dropped uncommitted, it removes itself.
pub(crate) struct AtomicFile {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    pub(crate) fn create(target: &Path) -> Result<AtomicFile> {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = target.with_file_name(format!(".{name}.{}{TEMP_SUFFIX}", secrets::hex(&crate::random::<8>()?)));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(Error::io("create", &temp))?;
        Ok(AtomicFile { file: Some(file), temp, target: target.to_path_buf() })
    }

    /// Makes the new content durable under the target name.
    pub(crate) fn commit(self) -> Result<()> {
        self.finish(|temp, target| fs::rename(temp, target).map_err(Error::io("rename into place", target)))
    }

    /// Like `commit`, but fails with `AlreadyExists` instead of replacing an existing target.
    pub(crate) fn commit_new(self) -> Result<()> {
        self.finish(|temp, target| {
            let linked = fs::hard_link(temp, target).map_err(Error::io("create", target));
            let _ = fs::remove_file(temp);
            linked
        })
    }

    /// Flushes the temporary file to disk, puts it in place with `place`, and makes that
    /// durable. On failure the temporary file is removed.
    fn finish(mut self, place: impl FnOnce(&Path, &Path) -> Result<()>) -> Result<()> {
        let file = self.file.take().expect("AtomicFile committed twice");
        let placed = file.sync_all().map_err(Error::io("flush to disk", &self.temp)).and_then(|()| {
            drop(file);
            place(&self.temp, &self.target)
        });
        if placed.is_err() {
            let _ = fs::remove_file(&self.temp);
        }
        placed?;
        sync_dir_of(&self.target)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.as_mut().expect("AtomicFile used after commit").write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Abandoned (error or early return): never leave a half-written file behind.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Replaces `target` with `bytes` atomically.
pub(crate) fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(target)?;
    file.write_all(bytes).map_err(Error::io("write", target))?;
    file.commit()
}

/// Makes a rename, creation or removal in `path`'s directory durable.
pub(crate) fn sync_dir_of(path: &Path) -> Result<()> {
    // A bare file name's parent is "", which names no directory: it means the current one.
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io("flush directory", dir))
}

/// Removes a file and makes the removal durable; an already absent file is fine.
pub(crate) fn remove_durably(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir_of(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("delete", path)(e)),
    }
}
