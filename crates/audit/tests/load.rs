//! 100,000 records written and verified, every one of them checked. fsync is off here only to
//! keep the suite quick on a shared disk; `examples/throughput.rs` measures with fsync on.

mod common;

use audit::{Event, Verification};
use common::{TestLog, id};

#[test]
fn a_hundred_thousand_records_are_written_and_verified() {
    let log = TestLog::with_config(audit::AuditConfig { fsync: false, ..audit::AuditConfig::default() });
    let mut writer = log.open();
    let doctor = id("doc1");
    for number in 0..100_000u64 {
        let consultation = id(&format!("c{:06}", number / 10));
        let event = match number % 2 {
            0 => Event::AudioReceived { consultation, duration_ms: number },
            _ => Event::ConsultationStarted { consultation, doctor: doctor.clone(), ingest_key: None },
        };
        writer.append(event).unwrap();
    }
    drop(writer);
    match log.verify() {
        Verification::Intact { records, checked, .. } => assert_eq!((records, checked), (100_000, 100_000)),
        broken => panic!("{broken:?}"),
    }
}
