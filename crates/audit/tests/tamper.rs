//! Every way of tampering with the log that the issue names is detected and named.

mod common;

use std::fs;

use audit::{AuditError, AuditLog, Checkpoint, FaultKind, Record, Verification, VerifyOptions, line_hash};
use common::TestLog;

fn fault(log: &TestLog) -> FaultKind {
    match log.verify() {
        Verification::Broken(fault) => fault.kind,
        intact => panic!("tampering went unnoticed: {intact:?}"),
    }
}

#[test]
fn untouched_log_verifies_across_reopening_and_rotation() {
    let log = TestLog::small_segments();
    drop(log.fill(60));
    drop(log.fill(60)); // reopened: the chain continues
    assert!(log.segment_count() >= 3, "expected rotation, got {} segments", log.segment_count());
    match log.verify() {
        Verification::Intact { records, checked, head } => {
            assert_eq!(records, 960);
            assert_eq!(checked, 960);
            assert_eq!(head.len(), 64);
        }
        broken => panic!("{broken:?}"),
    }
}

#[test]
fn changing_one_byte_is_named_modified() {
    let log = TestLog::new();
    drop(log.fill(2));
    let mut bytes = fs::read(log.segment(1)).unwrap();
    let line_start = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(3).unwrap().0 + 1;
    let digit = line_start + bytes[line_start..].iter().position(|b| *b == b'7').unwrap();
    bytes[digit] = b'8'; // e.g. duration 754000 → 854000
    fs::write(log.segment(1), bytes).unwrap();
    assert_eq!(fault(&log), FaultKind::Modified { seq: Some(5) });
}

#[test]
fn breaking_the_json_of_a_record_is_named_modified() {
    let log = TestLog::new();
    drop(log.fill(2));
    let mut lines = log.lines(1);
    lines[2].replace_range(0..1, "[");
    log.write_lines(1, &lines);
    // A line that no longer parses has no readable sequence number.
    assert_eq!(fault(&log), FaultKind::Modified { seq: None });
}

#[test]
fn deleting_a_record_is_named_missing() {
    let log = TestLog::new();
    drop(log.fill(2));
    let mut lines = log.lines(1);
    lines.remove(6);
    log.write_lines(1, &lines);
    assert_eq!(fault(&log), FaultKind::Missing { first: 7, last: 7 });
}

#[test]
fn swapping_two_records_is_named_reordered() {
    let log = TestLog::new();
    drop(log.fill(2));
    let mut lines = log.lines(1);
    lines.swap(4, 9);
    log.write_lines(1, &lines);
    assert_eq!(fault(&log), FaultKind::Reordered { expected: 5, found: 10 });
}

#[test]
fn cutting_records_off_the_end_is_named_truncated() {
    let log = TestLog::new();
    drop(log.fill(2));
    let mut lines = log.lines(1);
    lines.truncate(13);
    log.write_lines(1, &lines);
    assert_eq!(fault(&log), FaultKind::TruncatedTail { last: 13, vouched: 16, by: "audit.head".into() });
    // And the writer refuses to carry on over the evidence.
    let reopened = AuditLog::open(&log.config, log.data_dir.path());
    assert!(matches!(reopened, Err(AuditError::LogDamaged { .. })), "{reopened:?}");
}

#[test]
fn cutting_the_last_record_in_half_is_named_truncated() {
    let log = TestLog::new();
    drop(log.fill(1));
    let bytes = fs::read(log.segment(1)).unwrap();
    fs::write(log.segment(1), &bytes[..bytes.len() - 40]).unwrap();
    assert_eq!(fault(&log), FaultKind::IncompleteTail);
}

#[test]
fn a_writer_refuses_a_cut_tail_without_touching_it() {
    let log = TestLog::new();
    drop(log.fill(1));
    let mut lines = log.lines(1);
    lines.truncate(6);
    log.write_lines(1, &lines);
    // Records 7 and 8 removed, and half a line left where they were: what a crash looks like.
    let mut bytes = fs::read(log.segment(1)).unwrap();
    bytes.extend_from_slice(br#"{"seq":7,"time":"2026-"#);
    fs::write(log.segment(1), &bytes).unwrap();
    let reopened = AuditLog::open(&log.config, log.data_dir.path());
    assert!(matches!(reopened, Err(AuditError::LogDamaged { .. })), "{reopened:?}");
    assert_eq!(fs::read(log.segment(1)).unwrap(), bytes, "the refused log was changed");
}

#[test]
fn deleting_the_head_too_is_still_noticed() {
    let log = TestLog::new();
    drop(log.fill(1));
    fs::remove_file(log.dir().join(audit::HEAD_FILE)).unwrap();
    assert_eq!(fault(&log), FaultKind::HeadMissing);
}

#[test]
fn truncation_with_an_old_head_restored_is_caught_by_an_exported_checkpoint() {
    let log = TestLog::new();
    let writer = log.fill(1);
    let old_head = fs::read(log.dir().join(audit::HEAD_FILE)).unwrap();
    let old_lines = log.lines(1);
    drop(writer);
    let mut writer = log.open();
    writer.append(common::shredded(0)).unwrap();
    let exported: Checkpoint = writer.checkpoint();
    drop(writer);
    // The attacker rolls log and head back to before the deletion record.
    log.write_lines(1, &old_lines);
    fs::write(log.dir().join(audit::HEAD_FILE), old_head).unwrap();
    assert!(matches!(log.verify(), Verification::Intact { records: 8, .. }));
    let by = format!("the checkpoint of {}", exported.time);
    let with_checkpoint = VerifyOptions { checkpoints: vec![exported], ..VerifyOptions::default() };
    let truncated = FaultKind::TruncatedTail { last: 8, vouched: 9, by };
    match audit::verify(&log.dir(), &log.key(), &with_checkpoint).unwrap() {
        Verification::Broken(fault) => assert_eq!(fault.kind, truncated),
        intact => panic!("{intact:?}"),
    }
    // The DPO, holding only the public key, sees the same.
    match audit::verify(&log.dir(), &log.key().public_key(), &with_checkpoint).unwrap() {
        Verification::Broken(fault) => assert_eq!(fault.kind, truncated),
        intact => panic!("{intact:?}"),
    }
}

fn public_fault(log: &TestLog) -> FaultKind {
    match audit::verify(&log.dir(), &log.key().public_key(), &VerifyOptions::default()).unwrap() {
        Verification::Broken(fault) => fault.kind,
        intact => panic!("tampering went unnoticed with the public key: {intact:?}"),
    }
}

#[test]
fn the_public_key_alone_verifies_an_untouched_log_and_catches_each_tampering() {
    let log = TestLog::small_segments();
    drop(log.fill(60));
    let public = log.key().public_key();
    assert!(matches!(
        audit::verify(&log.dir(), &public, &VerifyOptions::default()).unwrap(),
        Verification::Intact { records: 480, .. }
    ));

    // An edited record no longer links to the next one.
    let mut lines = log.lines(1);
    let original = lines.clone();
    lines[3] = lines[3].replacen("\"seq\":4,", "\"seq\":4, ", 1);
    log.write_lines(1, &lines);
    assert_eq!(public_fault(&log), FaultKind::Modified { seq: Some(4) });
    lines = original.clone();
    lines[3] = lines[3].replacen("care", "research", 1);
    log.write_lines(1, &lines);
    assert!(matches!(public_fault(&log), FaultKind::ChainBroken { seq: 5 } | FaultKind::Modified { .. }));
    lines = original.clone();
    lines.remove(2);
    log.write_lines(1, &lines);
    assert_eq!(public_fault(&log), FaultKind::Missing { first: 3, last: 3 });
    log.write_lines(1, &original);

    // A record forged onto the end, correctly linked: the head cannot be re-signed without the key.
    let last_segment = log.segment_count() as u32;
    let mut lines = log.lines(last_segment);
    let last = lines.last().unwrap().clone();
    let mut forged: Record = serde_json::from_str(&last).unwrap();
    forged.seq += 1;
    forged.prev = line_hash(last.as_bytes());
    lines.push(forged.line());
    log.write_lines(last_segment, &lines);
    assert_eq!(public_fault(&log), FaultKind::Unvouched { first: 481, last: 481 });
    let head_path = log.dir().join(audit::HEAD_FILE);
    let mut head: Checkpoint = serde_json::from_str(fs::read_to_string(&head_path).unwrap().trim()).unwrap();
    head.count = 481;
    head.head = line_hash(forged.line().as_bytes());
    fs::write(&head_path, head.to_json()).unwrap();
    assert_eq!(public_fault(&log), FaultKind::CheckpointUnsigned { by: "audit.head".into() });
}

#[test]
fn a_record_appended_without_the_key_is_named_bad_hmac() {
    let log = TestLog::new();
    drop(log.fill(1));
    let mut lines = log.lines(1);
    let last = lines.last().unwrap().clone();
    let mut forged: Record = serde_json::from_str(&last).unwrap();
    forged.seq += 1;
    forged.prev = line_hash(last.as_bytes());
    forged.hmac = "ab".repeat(32);
    lines.push(forged.line());
    log.write_lines(1, &lines);
    assert_eq!(fault(&log), FaultKind::BadHmac { seq: 9 });
}

#[test]
fn deleting_a_rotated_file_is_named_missing_file() {
    for deleted in [2, 1] {
        let log = TestLog::small_segments();
        drop(log.fill(100));
        assert!(log.segment_count() >= 3);
        fs::remove_file(log.segment(deleted)).unwrap();
        let name = format!("audit-{deleted:06}.jsonl");
        assert_eq!(fault(&log), FaultKind::MissingFile { name });
    }
}

#[test]
fn verify_from_a_date_skips_archived_files_but_checks_the_rest() {
    let log = TestLog::small_segments();
    drop(log.fill(100));
    let second: Record = serde_json::from_str(&log.lines(2)[0]).unwrap();
    fs::remove_file(log.segment(1)).unwrap();
    let from = VerifyOptions { from: Some(second.time), ..VerifyOptions::default() };
    match audit::verify(&log.dir(), &log.key(), &from).unwrap() {
        Verification::Intact { records, checked, .. } => {
            assert_eq!(records, 800);
            assert!(checked > 0 && checked <= 800 - second.seq + 1);
        }
        broken => panic!("{broken:?}"),
    }
    // Tampering after the start is still found.
    let mut lines = log.lines(3);
    lines.swap(1, 2);
    log.write_lines(3, &lines);
    assert!(matches!(audit::verify(&log.dir(), &log.key(), &from).unwrap(), Verification::Broken(_)));
}

#[test]
fn a_crash_mid_write_is_recovered_and_recorded() {
    let log = TestLog::new();
    drop(log.fill(1));
    let mut bytes = fs::read(log.segment(1)).unwrap();
    bytes.extend_from_slice(br#"{"seq":9,"time":"2026-"#);
    fs::write(log.segment(1), bytes).unwrap();
    let mut writer = log.open();
    let next = writer.append(common::shredded(0)).unwrap();
    assert_eq!(next.seq, 10);
    let recovered: Record = serde_json::from_str(&log.lines(1)[8]).unwrap();
    assert_eq!(recovered.event, audit::Event::LogRecovered { dropped_bytes: 22 });
    assert!(matches!(log.verify(), Verification::Intact { records: 10, .. }));
}

#[test]
fn a_different_key_verifies_nothing() {
    let log = TestLog::new();
    drop(log.fill(1));
    let other = TestLog::new();
    drop(other.open());
    let result = audit::verify(&log.dir(), &other.key(), &VerifyOptions::default()).unwrap();
    assert!(
        matches!(result, Verification::Broken(ref fault) if fault.kind == FaultKind::CheckpointInvalid { by: "audit.head".into() }),
        "{result:?}"
    );
    assert!(AuditLog::open_dir(&log.dir(), other.key(), &log.config).is_err());
}
