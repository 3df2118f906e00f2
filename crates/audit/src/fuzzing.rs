//! The body of the `audit_log` fuzz target (fuzz/fuzz_targets/audit_log.rs), kept here so the
//! committed corpus and every crash found are replayed by the ordinary tests too
//! (crates/autonotar/tests/fuzz_regressions.rs). Built only with the `fuzzing` feature.
//!
//! The log's readers on a log someone has tampered with: `verify` (with the audit key and with
//! the public key only), the report's record reader, and the writer reopening it. A real log of
//! two consultations is written once; each input either replaces the segment and head outright
//! (first byte 0: segment, a 0 byte, head) or edits the real ones (first byte 1: (offset, byte)
//! triples, then a cut length), so the fuzzer reaches the chain checks that raw bytes, lacking
//! the key, never would.

use std::fs;
use std::path::PathBuf;
use std::sync::LazyLock;

use crate::{AuditConfig, AuditKey, AuditLog, Event, Id, VerifyOptions};

struct Log {
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
    config: AuditConfig,
    key: AuditKey,
    segment: Vec<u8>,
    head: Vec<u8>,
}

static LOG: LazyLock<Log> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let config = AuditConfig { fsync: false, ..AuditConfig::default() };
    let mut log = AuditLog::open(&config, &data_dir).unwrap();
    for number in 0..2 {
        let consultation = Id::new(format!("k-2026-{number:04}")).unwrap();
        log.append(Event::ConsultationStarted {
            consultation: consultation.clone(),
            doctor: Id::new("laege-01").unwrap(),
            ingest_key: None,
        })
        .unwrap();
        log.append(Event::LogRecovered { dropped_bytes: number }).unwrap();
    }
    drop(log);
    let key = AuditKey::load(&config.key_path(&data_dir).unwrap()).unwrap();
    let log_dir = config.log_dir(&data_dir);
    let segment = fs::read(log_dir.join("audit-000001.jsonl")).unwrap();
    let head = fs::read(log_dir.join(crate::HEAD_FILE)).unwrap();
    Log { _dir: dir, data_dir, config, key, segment, head }
});

/// Applies (offset, byte) edits and a final cut to `original`.
fn edited(original: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    let mut pairs = edits.chunks_exact(3);
    for pair in &mut pairs {
        let offset = u16::from_le_bytes([pair[0], pair[1]]) as usize;
        if let Some(byte) = bytes.get_mut(offset % original.len().max(1)) {
            *byte = pair[2];
        }
    }
    if let [cut_low, cut_high] = pairs.remainder() {
        bytes.truncate(u16::from_le_bytes([*cut_low, *cut_high]) as usize);
    }
    bytes
}

/// One fuzz input: see the module documentation.
pub fn tampered_log(data: &[u8]) {
    let log = &*LOG;
    let Some((&mode, rest)) = data.split_first() else { return };
    let (segment, head) = if mode == 0 {
        let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        (rest[..split].to_vec(), rest.get(split + 1..).unwrap_or_default().to_vec())
    } else {
        let split = rest.len() / 2 / 3 * 3;
        (edited(&log.segment, &rest[..split]), edited(&log.head, &rest[split..]))
    };
    let dir = log.config.log_dir(&log.data_dir);
    fs::write(dir.join("audit-000001.jsonl"), &segment).unwrap();
    fs::write(dir.join(crate::HEAD_FILE), &head).unwrap();
    let options = VerifyOptions::default();
    let _ = crate::verify(&dir, &log.key, &options);
    let _ = crate::verify(&dir, &log.key.public_key(), &options);
    let _ = crate::read_records(&dir);
    if let Ok(mut reopened) = AuditLog::open(&log.config, &log.data_dir) {
        let _ = reopened.append(Event::LogRecovered { dropped_bytes: 0 });
    }
}
