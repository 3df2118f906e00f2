//! Audit events through `tracing`: typed events are written before `emit` returns; anything
//! else sent to the audit target is refused, so free text never reaches the log.

mod common;

use std::fs;
use std::thread;

use audit::{AuditError, AuditLayer, Event, Verification, emit};
use common::{TestLog, id};
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn emit_without_an_audit_layer_fails_so_the_action_can_be_refused() {
    let event = Event::LoginSucceeded { doctor: id("doc1") };
    assert!(matches!(emit(&event), Err(AuditError::NotRecorded)));
    let unrelated = tracing_subscriber::registry();
    tracing::subscriber::with_default(unrelated, || assert!(matches!(emit(&event), Err(AuditError::NotRecorded))));
}

#[test]
fn emitted_events_are_durable_records_before_emit_returns() {
    let log = TestLog::new();
    let subscriber = tracing_subscriber::registry().with(AuditLayer::new(log.open()));
    tracing::subscriber::with_default(subscriber, || {
        let record = emit(&Event::LoginSucceeded { doctor: id("doc1") }).unwrap();
        assert_eq!(record.seq, 1);
        let on_disk = log.lines(1);
        assert_eq!(on_disk, vec![record.line()]);
        // Ordinary tracing events pass by the audit log.
        tracing::info!(consultation = "c1", "pipeline started");
        assert_eq!(log.lines(1).len(), 1);
    });
}

#[test]
fn free_text_sent_to_the_audit_target_is_not_written() {
    let log = TestLog::new();
    let subscriber = tracing_subscriber::registry().with(AuditLayer::new(log.open()));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "audit", "Patient Jens Hansen, CPR 010203-1234, har ondt i halsen");
        tracing::info!(target: "audit", audit_event = r#"{"type":"login_succeeded","doctor":"Jens Hansen"}"#);
        tracing::info!(
            target: "audit",
            audit_event = r#"{"type":"login_succeeded","doctor":"doc1","note":"Jens Hansen"}"#
        );
    });
    assert!(log.lines(1).is_empty());
    let everything: String =
        fs::read_dir(log.dir()).unwrap().map(|entry| fs::read_to_string(entry.unwrap().path()).unwrap()).collect();
    assert!(!everything.contains("Jens") && !everything.contains("010203"));
}

#[test]
fn a_record_that_cannot_be_written_fails_emit_and_leaves_the_log_intact() {
    let log = TestLog::new();
    let subscriber = tracing_subscriber::registry().with(AuditLayer::new(log.open()));
    tracing::subscriber::with_default(subscriber, || {
        let too_many = Event::KeyShredded {
            consultation: id("c1"),
            key: id("dk1"),
            artefacts: (0..4000).map(|n| id(&format!("c1.artefact-{n:05}"))).collect(),
            policy: id("p1"),
        };
        assert!(matches!(emit(&too_many), Err(AuditError::RecordTooLarge(_))));
        emit(&Event::KeyRotated { key: id("kek2"), rewrapped: 3 }).unwrap();
    });
    assert!(matches!(log.verify(), Verification::Intact { records: 1, .. }));
}

#[test]
fn threads_sharing_one_layer_get_one_unbroken_chain() {
    let log = TestLog::new();
    let layer = AuditLayer::new(log.open());
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let layer = layer.clone();
            thread::spawn(move || {
                let subscriber = tracing_subscriber::registry().with(layer);
                tracing::subscriber::with_default(subscriber, || {
                    for number in 0..100 {
                        let consultation = id(&format!("t{thread}-c{number}"));
                        emit(&Event::AudioReceived { consultation, duration_ms: 1000 }).unwrap();
                    }
                });
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(matches!(log.verify(), Verification::Intact { records: 400, .. }));
}

/// Every string in every record is an id, an enum value, a time or a hash, except the legal
/// basis, which is configuration text: there is no field a caller could put free text into.
#[test]
fn records_hold_no_string_but_ids_enums_times_and_hashes() {
    fn strings<'a>(value: &'a serde_json::Value, key: &'a str, out: &mut Vec<(&'a str, &'a str)>) {
        match value {
            serde_json::Value::String(text) => out.push((key, text)),
            serde_json::Value::Array(items) => items.iter().for_each(|item| strings(item, key, out)),
            serde_json::Value::Object(fields) => fields.iter().for_each(|(name, value)| strings(value, name, out)),
            _ => {}
        }
    }
    let log = TestLog::new();
    drop(log.fill(1));
    let mut writer = log.open();
    for event in [
        common::shredded(0),
        Event::LoginFailed { reason: audit::LoginFailure::LinkExpired, doctor: None, suppressed: 0 },
        Event::RetentionSweepRan { examined: 1, deleted: 0, shredded: 1 },
    ] {
        writer.append(event).unwrap();
    }
    for line in log.lines(1) {
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let mut found = Vec::new();
        strings(&value, "", &mut found);
        for (key, text) in found {
            let allowed = key == "legal_basis"
                || audit::Id::new(text).is_ok()
                || audit::Timestamp::parse(text).is_ok()
                || (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(allowed, "field {key} holds {text:?}");
        }
    }
}
