//! The output directory of a run, private to the user, every file written atomically; and
//! what can go wrong writing a run.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error(
        "{} holds a different run ({what}: {before} then, {now} now); give a new --out, or delete it to start over",
        out.display()
    )]
    DifferentRun { out: PathBuf, what: &'static str, before: String, now: String },
    #[error(
        "{} already holds files and no run.json: give a new or empty directory as --out",
        out.display()
    )]
    NotARunDir { out: PathBuf },
    #[error("{} is not a run header this harness can read ({reason}); give a new --out", path.display())]
    BadRunDir { path: PathBuf, reason: String },
    #[error("cannot read model file {}: {source}", path.display())]
    Model { path: PathBuf, source: std::io::Error },
    #[error("cannot draw {}: {reason}", path.display())]
    Plot { path: PathBuf, reason: String },
}

/// The output directory, whose files are private to the user (0700/0600): they hold
/// transcripts and notes in plaintext.
pub(crate) struct OutDir {
    root: PathBuf,
    written: Mutex<Vec<PathBuf>>,
}

impl OutDir {
    pub(crate) fn new(root: &Path) -> Result<OutDir, RunError> {
        let out = OutDir { root: root.to_path_buf(), written: Mutex::new(Vec::new()) };
        out.ensure_dir(root)?;
        // An --out the user made beforehand keeps its mode otherwise; its contents are private.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
            .map_err(|source| RunError::Write { path: root.into(), source })?;
        Ok(out)
    }

    fn ensure_dir(&self, dir: &Path) -> Result<(), RunError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| RunError::Write { path: dir.into(), source })
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Writes `relative` atomically: a reader (or a resumed run) sees the old file or the
    /// whole new one, never half of it.
    pub(crate) fn write(&self, relative: &str, contents: &[u8]) -> Result<PathBuf, RunError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.root.join(relative);
        if let Some(parent) = path.parent() {
            self.ensure_dir(parent)?;
        }
        let partial = path
            .with_file_name(format!("{}.partial", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
        let error = |source| RunError::Write { path: path.clone(), source };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .map_err(error)?;
        file.write_all(contents).and_then(|()| file.sync_all()).map_err(error)?;
        std::fs::rename(&partial, &path).map_err(error)?;
        if let Ok(mut written) = self.written.lock() {
            written.push(path.clone());
        }
        Ok(path)
    }

    pub(crate) fn write_json<T: Serialize>(&self, relative: &str, value: &T) -> Result<PathBuf, RunError> {
        let json = serde_json::to_string_pretty(value).expect("results always serialise");
        self.write(relative, json.as_bytes())
    }

    pub(crate) fn into_written(self) -> Vec<PathBuf> {
        self.written.into_inner().unwrap_or_default()
    }
}
