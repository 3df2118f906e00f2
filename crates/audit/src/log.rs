//! The writer: appends signed, chained records, fsyncs them, rotates segments, keeps the head.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::record::{GENESIS_HASH, MAX_RECORD_BYTES, line_hash};
use crate::segments::{HEAD_FILE, Segment, list_segments, read_head, segment_name};
use crate::{AuditConfig, AuditError, AuditKey, Checkpoint, Event, LegalBasis, Record, Result, Timestamp};

/// Fixed size of `audit.head`: rewritten in place, so a crash never leaves it half-replaced.
const HEAD_BYTES: usize = 512;

/// Name of the file that is `flock`ed around every append, so that several processes (the
/// service, a retention sweep run from the command line) can share one log.
const LOCK_FILE: &str = "audit.lock";

/// An open audit log. Within a process, share one behind a mutex; other processes may open the same directory: appends are serialised by a file lock.
#[derive(Debug)]
pub struct AuditLog {
    dir: PathBuf,
    key: AuditKey,
    legal_basis: LegalBasis,
    max_file_bytes: u64,
    rotate_daily: bool,
    fsync: bool,
    clock: fn() -> Timestamp,
    lock: Arc<File>,
    head_file: File,
    /// What this writer last wrote to `audit.head`: anything else there means another writer
    /// appended since.
    head_written: Vec<u8>,
    tip: Tip,
    /// Set when a write failed half-way; the log must be reopened to recover.
    unusable: bool,
}

/// The end of the chain, where the next record goes.
#[derive(Debug)]
struct Tip {
    segment: u32,
    file: File,
    file_len: u64,
    /// UTC day of the records in the current segment, once it has one.
    file_day: Option<String>,
    count: u64,
    head: String,
}

/// What the end of the existing log looks like.
struct Tail {
    count: u64,
    head: String,
    day: Option<String>,
    /// An unfinished last line of the newest segment (a crash mid-write), cut off only once the
    /// log has been found to agree with its head.
    unfinished: Option<Unfinished>,
}

struct Unfinished {
    path: PathBuf,
    /// Where the last complete line ends.
    keep: u64,
    /// Bytes of the unfinished line.
    dropped: u64,
}

/// Holds the log's file lock until dropped; shares the handle so holding it does not borrow the log.
struct Locked(Arc<File>);

impl Drop for Locked {
    fn drop(&mut self) {
        // Closing the file would release it too; an error here leaves nothing to repair.
        let _ = self.0.unlock();
    }
}

impl AuditLog {
    /// Opens (or starts) the log configured for `data_dir`, creating the audit key on first use.
    pub fn open(config: &AuditConfig, data_dir: &Path) -> Result<AuditLog> {
        let key = AuditKey::load_or_create(&config.key_path(data_dir)?)?;
        AuditLog::open_dir(&config.log_dir(data_dir), key, config)
    }

    /// Opens the log in `dir` with an already loaded key.
    pub fn open_dir(dir: &Path, key: AuditKey, config: &AuditConfig) -> Result<AuditLog> {
        AuditLog::open_with_clock(dir, key, config, Timestamp::now)
    }

    pub(crate) fn open_with_clock(
        dir: &Path,
        key: AuditKey,
        config: &AuditConfig,
        clock: fn() -> Timestamp,
    ) -> Result<AuditLog> {
        config.validate()?;
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(AuditError::io("creating audit log directory", dir))?;
        let open_private = |name: &str, action: &'static str| {
            let path = dir.join(name);
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(AuditError::io(action, path))
        };
        let lock = Arc::new(open_private(LOCK_FILE, "opening audit lock")?);
        let head_file = open_private(HEAD_FILE, "opening audit head")?;
        let _locked = lock_log(&lock, dir)?;
        let (tip, dropped) = locate_tip(dir, &key)?;
        let mut log = AuditLog {
            dir: dir.to_owned(),
            key,
            legal_basis: config.legal_basis.clone(),
            max_file_bytes: config.max_file_bytes,
            rotate_daily: config.rotate_daily,
            fsync: config.fsync,
            clock,
            lock,
            head_file,
            head_written: Vec::new(),
            tip,
            unusable: false,
        };
        log.write_head()?;
        if dropped > 0 {
            log.write_record(Event::LogRecovered { dropped_bytes: dropped })?;
        }
        Ok(log)
    }

    /// Writes `event` as the next record and, with `fsync` on, makes it durable before returning.
    /// Fail the action the event describes when this fails.
    pub fn append(&mut self, event: Event) -> Result<Record> {
        if self.unusable {
            return Err(AuditError::LogUnusable);
        }
        let _locked = lock_log(&self.lock, &self.dir)?;
        self.catch_up()?;
        self.write_record(event)
    }

    /// Moves the tip to the end of records other processes appended since our last one.
    fn catch_up(&mut self) -> Result<()> {
        let mut on_disk = vec![0; HEAD_BYTES];
        let read = self
            .head_file
            .read_at(&mut on_disk, 0)
            .map_err(AuditError::io("reading audit head", self.dir.join(HEAD_FILE)))?;
        if on_disk[..read] == self.head_written[..] {
            return Ok(());
        }
        let (tip, dropped) = locate_tip(&self.dir, &self.key)?;
        self.tip = tip;
        if dropped > 0 {
            self.write_record(Event::LogRecovered { dropped_bytes: dropped })?;
        }
        Ok(())
    }

    /// Appends at the tip; the caller holds the lock.
    fn write_record(&mut self, event: Event) -> Result<Record> {
        let time = (self.clock)();
        let legal_basis = self.legal_basis.for_purpose(event.purpose()).to_owned();
        let seq =
            self.tip.count.checked_add(1).ok_or_else(|| {
                damaged(&self.dir, "the last record claims the highest possible sequence number".into())
            })?;
        let (record, mut line) = Record::seal(&self.key, seq, time, self.tip.head.clone(), legal_basis, event);
        if line.len() > MAX_RECORD_BYTES {
            return Err(AuditError::RecordTooLarge(line.len()));
        }
        let hash = line_hash(line.as_bytes());
        line.push('\n');
        self.rotate_if_due(time, line.len() as u64)?;

        let fsync = self.fsync;
        let file = &mut self.tip.file;
        let written = file.write_all(line.as_bytes()).and_then(|()| if fsync { file.sync_data() } else { Ok(()) });
        if let Err(error) = written {
            // Whatever reached the disk is unacknowledged; cut it so the chain stays clean.
            self.unusable = true;
            let _ = self.tip.file.set_len(self.tip.file_len);
            let path = self.dir.join(segment_name(self.tip.segment));
            return Err(AuditError::io("writing audit log", path)(error));
        }
        self.tip.count = record.seq;
        self.tip.head = hash;
        self.tip.file_len += line.len() as u64;
        self.tip.file_day = Some(time.day());
        self.write_head()?;
        Ok(record)
    }

    /// A signed checkpoint of the log as it is now, to keep somewhere the log's writers cannot reach.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint::sign(&self.key, self.tip.count, self.tip.head.clone(), (self.clock)())
    }

    /// Number of records written so far (also the last record's `seq`).
    pub fn count(&self) -> u64 {
        self.tip.count
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn rotate_if_due(&mut self, time: Timestamp, line_len: u64) -> Result<()> {
        let tip = &mut self.tip;
        if tip.file_len == 0 {
            return Ok(());
        }
        let full = tip.file_len + line_len > self.max_file_bytes;
        let new_day = self.rotate_daily && tip.file_day.as_deref() != Some(time.day().as_str());
        if full || new_day {
            tip.segment += 1;
            tip.file = create_segment(&self.dir, tip.segment)?;
            tip.file_len = 0;
            tip.file_day = None;
        }
        Ok(())
    }

    fn write_head(&mut self) -> Result<()> {
        let mut bytes = self.checkpoint().to_json().into_bytes();
        bytes.resize(HEAD_BYTES - 1, b' ');
        bytes.push(b'\n');
        // No fsync: the records it vouches for are already durable, so after a crash the head
        // can only lag behind the log (which verify accepts), never run ahead of it.
        let path = self.dir.join(HEAD_FILE);
        self.head_file.write_all_at(&bytes, 0).map_err(AuditError::io("writing audit head", path))?;
        self.head_written = bytes;
        Ok(())
    }
}

fn lock_log(lock: &Arc<File>, dir: &Path) -> Result<Locked> {
    lock.lock().map_err(AuditError::io("locking audit log", dir))?;
    Ok(Locked(Arc::clone(lock)))
}

/// Finds where the next record goes: after the last record of the newest segment (cutting off
/// an unfinished line, whose length is returned), provided the log agrees with its head. The
/// check comes before the cut: a log that is refused is left exactly as it was found, evidence
/// and all.
fn locate_tip(dir: &Path, key: &AuditKey) -> Result<(Tip, u64)> {
    let segments = list_segments(dir)?;
    let tail = read_tail(dir, &segments)?;
    check_head_agrees(dir, key, &tail)?;
    let dropped = match &tail.unfinished {
        Some(unfinished) => {
            OpenOptions::new()
                .write(true)
                .open(&unfinished.path)
                .and_then(|file| file.set_len(unfinished.keep).and_then(|()| file.sync_all()))
                .map_err(AuditError::io("repairing audit log tail", &unfinished.path))?;
            unfinished.dropped
        }
        None => 0,
    };
    let (segment, file) = match segments.last() {
        Some(last) => (last.index, open_for_append(&last.path)?),
        None => (1, create_segment(dir, 1)?),
    };
    let file_len = file.metadata().map_err(AuditError::io("reading audit log", dir))?.len();
    let tip = Tip { segment, file, file_len, file_day: tail.day, count: tail.count, head: tail.head };
    Ok((tip, dropped))
}

fn open_for_append(path: &Path) -> Result<File> {
    OpenOptions::new().append(true).open(path).map_err(AuditError::io("opening audit log", path))
}

/// Creates segment `index` and makes its directory entry durable.
fn create_segment(dir: &Path, index: u32) -> Result<File> {
    let path = dir.join(segment_name(index));
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(AuditError::io("creating audit log segment", &path))?;
    File::open(dir).and_then(|dir| dir.sync_all()).map_err(AuditError::io("syncing audit log directory", dir))?;
    Ok(file)
}

/// Finds the last record, and an unfinished last line of the newest segment after it.
fn read_tail(dir: &Path, segments: &[Segment]) -> Result<Tail> {
    let mut unfinished = None;
    for (position, segment) in segments.iter().enumerate().rev() {
        let newest = position + 1 == segments.len();
        let mut file = OpenOptions::new()
            .read(true)
            .open(&segment.path)
            .map_err(AuditError::io("opening audit log", &segment.path))?;
        let len = file.metadata().map_err(AuditError::io("reading audit log", &segment.path))?.len();
        let start = len.saturating_sub(2 * MAX_RECORD_BYTES as u64 + 2);
        let mut window = Vec::new();
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_to_end(&mut window))
            .map_err(AuditError::io("reading audit log", &segment.path))?;

        let complete_len = window.iter().rposition(|&byte| byte == b'\n').map_or(0, |newline| newline + 1);
        if complete_len < window.len() {
            if !newest || (complete_len == 0 && start > 0) {
                return Err(damaged(dir, format!("{} ends in an unfinished record", segment.name())));
            }
            unfinished = Some(Unfinished {
                path: segment.path.clone(),
                keep: start + complete_len as u64,
                dropped: (window.len() - complete_len) as u64,
            });
            window.truncate(complete_len);
        }
        let Some(last_line) = window.strip_suffix(b"\n").map(|body| match body.iter().rposition(|&b| b == b'\n') {
            Some(newline) => &body[newline + 1..],
            None => body,
        }) else {
            continue; // an empty segment: created by a rotation just before a crash
        };
        let record: Record = serde_json::from_slice(last_line)
            .map_err(|error| damaged(dir, format!("the last record of {} cannot be read ({error})", segment.name())))?;
        return Ok(Tail { count: record.seq, head: line_hash(last_line), day: Some(record.time.day()), unfinished });
    }
    Ok(Tail { count: 0, head: GENESIS_HASH.to_owned(), day: None, unfinished })
}

/// Refuses to continue a log whose end does not match its signed head, so that writing on
/// cannot overwrite the evidence of a cut-off tail.
fn check_head_agrees(dir: &Path, key: &AuditKey, tail: &Tail) -> Result<()> {
    let head = match read_head(dir) {
        Ok(head) => head,
        Err(error) => return Err(damaged(dir, error.to_string())),
    };
    let reason = match head {
        None if tail.count > 0 => "audit.head is missing, so a cut-off tail could not be told apart".to_owned(),
        None => return Ok(()),
        Some(head) if !head.is_authentic(key) => {
            "audit.head does not carry a valid HMAC under this audit key (wrong key file, or an edited head)".to_owned()
        }
        Some(head) if head.count > tail.count => format!(
            "audit.head vouches for {} records but the log ends at record {}: records were removed from the end",
            head.count, tail.count
        ),
        Some(head) if head.count == tail.count && head.head != tail.head => {
            "the last record is not the one audit.head vouches for".to_owned()
        }
        Some(_) => return Ok(()),
    };
    Err(damaged(dir, reason))
}

fn damaged(dir: &Path, reason: String) -> AuditError {
    AuditError::LogDamaged { dir: dir.into(), reason }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::{Id, Verification, VerifyOptions};

    static SIMULATED_NOW: AtomicU64 = AtomicU64::new(0);

    fn simulated_clock() -> Timestamp {
        Timestamp::from_millis(SIMULATED_NOW.load(Ordering::SeqCst))
    }

    #[test]
    fn a_new_utc_day_starts_a_new_segment_and_the_chain_runs_on() {
        let data_dir = tempfile::tempdir().unwrap();
        let config = AuditConfig::default();
        let dir = config.log_dir(data_dir.path());
        let key = AuditKey::load_or_create(&config.key_path(data_dir.path()).unwrap()).unwrap();
        let mut log = AuditLog::open_with_clock(&dir, key, &config, simulated_clock).unwrap();
        let late_evening = Timestamp::parse("2026-11-23T23:59:59Z").unwrap();
        let next_morning = Timestamp::parse("2026-11-24T00:00:01Z").unwrap();
        for (time, doctor) in [(late_evening, "doc1"), (late_evening, "doc2"), (next_morning, "doc3")] {
            SIMULATED_NOW.store(time.millis(), Ordering::SeqCst);
            log.append(Event::LoginSucceeded { doctor: Id::new(doctor).unwrap() }).unwrap();
        }
        let names: Vec<String> = list_segments(&dir).unwrap().iter().map(Segment::name).collect();
        assert_eq!(names, ["audit-000001.jsonl", "audit-000002.jsonl"]);

        let key = AuditKey::load(&config.key_path(data_dir.path()).unwrap()).unwrap();
        let all = crate::verify(&dir, &key, &VerifyOptions::default()).unwrap();
        assert!(matches!(all, Verification::Intact { records: 3, checked: 3, .. }), "{all:?}");
        let from_the_24th =
            VerifyOptions { from: Some(Timestamp::parse("2026-11-24").unwrap()), ..VerifyOptions::default() };
        let recent = crate::verify(&dir, &key, &from_the_24th).unwrap();
        assert!(matches!(recent, Verification::Intact { records: 3, checked: 1, .. }), "{recent:?}");
    }
}
