//! Checkpoint files kept apart from the log: the one `serve` appends to every
//! `[audit] checkpoint_interval_seconds`, and those `audit checkpoint FILE` exports. One JSON
//! checkpoint per line, so a file holds one or a year of them.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::segments::parse_checkpoint;
use crate::{AuditError, Checkpoint, Result};

/// Appends `checkpoint` as one line (one `write`, then fsync), creating the file with mode 0600.
pub fn append_checkpoint(path: &Path, checkpoint: &Checkpoint) -> Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(AuditError::io("opening checkpoint file", path))?;
    file.write_all((checkpoint.to_json() + "\n").as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(AuditError::io("writing checkpoint file", path))
}

/// Every checkpoint in the file. A last line without its newline is a crash mid-append (never
/// fsynced, never relied on) and is skipped; any other line that is not a checkpoint is an error.
pub fn read_checkpoints(path: &Path) -> Result<Vec<Checkpoint>> {
    let text = fs::read_to_string(path).map_err(AuditError::io("reading checkpoint file", path))?;
    let complete = if text.ends_with('\n') { &text[..] } else { &text[..text.rfind('\n').map_or(0, |end| end + 1)] };
    complete.lines().filter(|line| !line.trim().is_empty()).map(|line| parse_checkpoint(line, path)).collect()
}

/// [`read_checkpoints`], or none when the file does not exist (yet).
pub fn read_checkpoints_if_present(path: &Path) -> Result<Vec<Checkpoint>> {
    match fs::metadata(path) {
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(Vec::new()),
        _ => read_checkpoints(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditKey, Timestamp};

    #[test]
    fn appended_checkpoints_read_back_and_a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let key = AuditKey::load_or_create(&dir.path().join("key")).unwrap();
        let path = dir.path().join("checkpoints");
        assert!(read_checkpoints_if_present(&path).unwrap().is_empty());
        let first = Checkpoint::sign(&key, 3, "a".repeat(64), Timestamp::now());
        let second = Checkpoint::sign(&key, 7, "b".repeat(64), Timestamp::now());
        append_checkpoint(&path, &first).unwrap();
        append_checkpoint(&path, &second).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"count":9,"he"#).unwrap();
        assert_eq!(read_checkpoints(&path).unwrap(), vec![first, second]);
        fs::write(&path, "not a checkpoint\n").unwrap();
        assert!(matches!(read_checkpoints(&path), Err(AuditError::BadCheckpoint { .. })));
    }
}
