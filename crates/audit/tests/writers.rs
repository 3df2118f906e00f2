//! Several writers on one log (the service and a command-line retention sweep, say) keep one
//! unbroken chain: appends are serialised by a file lock and each writer catches up with the
//! records the others wrote, across rotations. Each `AuditLog` has its own open file
//! descriptions, so to `flock` two of them are exactly two processes.

mod common;

use std::thread;

use audit::{Event, Verification};
use common::{TestLog, id};

#[test]
fn two_writers_on_one_log_keep_one_chain() {
    let log = TestLog::small_segments();
    let writers: Vec<_> = ["service", "sweeper"]
        .into_iter()
        .map(|name| {
            let mut writer = log.open();
            thread::spawn(move || {
                for number in 0..400 {
                    let consultation = id(&format!("{name}-c{number:04}"));
                    writer.append(Event::AudioReceived { consultation, duration_ms: 1 }).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(log.segment_count() >= 2, "the writers should have rotated");
    match log.verify() {
        Verification::Intact { records, .. } => assert_eq!(records, 800),
        broken => panic!("{broken:?}"),
    }
}

#[test]
fn a_writer_picks_up_where_another_left_off() {
    let log = TestLog::new();
    let mut first = log.open();
    let mut second = log.open();
    first.append(Event::LoginSucceeded { doctor: id("doc1") }).unwrap();
    let record = second.append(Event::LoginSucceeded { doctor: id("doc2") }).unwrap();
    assert_eq!(record.seq, 2);
    assert_eq!(first.append(Event::KeyRotated { key: id("kek2"), rewrapped: 0 }).unwrap().seq, 3);
    assert!(matches!(log.verify(), Verification::Intact { records: 3, .. }));
}
