//! The serve sink against a real vault and a real audit log: what is recorded, in which order,
//! and what happens when the log or the vault fails.

use std::sync::{Arc, Mutex};

use ids::{ConsultationId, Id};
use storage::{Finished, KeepError, Keeper, Opening, Principal, Refusal, Sink};
use vault::{ArtefactKind, Kek, RetentionPolicy, Vault};

struct Fixture {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    vault: Vault,
    keeper: Keeper,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let vault = Vault::open(&data, Kek::generate().unwrap()).unwrap();
        let config = audit::AuditConfig { key_file: Some(dir.path().join("audit-key")), ..Default::default() };
        let audit = Arc::new(Mutex::new(audit::AuditLog::open(&config, &data).unwrap()));
        let keeper = Keeper::new(vault.clone(), audit, RetentionPolicy::default());
        Fixture { _dir: dir, data, vault, keeper }
    }

    /// The event types in the log, in order.
    fn recorded(&self) -> Vec<String> {
        let mut kinds = Vec::new();
        let mut files: Vec<_> =
            std::fs::read_dir(self.data.join("audit")).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "jsonl")) {
            for line in std::fs::read_to_string(file).unwrap().lines() {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                kinds.push(record["event"]["type"].as_str().unwrap().to_string());
            }
        }
        kinds
    }
}

fn finished(id: &str) -> Finished {
    let segment = transcript::Segment {
        id: 0,
        speaker: transcript::Role::Patient,
        track: 1,
        start: 0.5,
        end: 2.0,
        text: "Jeg har ondt i halsen.".into(),
        confidence: 0.9,
        words: Vec::new(),
    };
    Finished {
        consultation: ConsultationId::new(id).unwrap(),
        doctor: Id::new("laege-01").unwrap(),
        transcript: transcript::Transcript::merge("da", 3.0, vec![Vec::new(), vec![segment]]),
        draft: None,
    }
}

#[test]
fn a_consultation_is_recorded_before_it_is_stored_and_its_id_is_taken_for_good() {
    let f = Fixture::new();
    let (consultation, doctor) = (ConsultationId::new("k-1").unwrap(), Id::new("laege-01").unwrap());
    let principal = Principal::Key(Id::new("platform").unwrap());
    let opening = Opening { consultation: &consultation, doctor: &doctor, principal: &principal };
    f.keeper.open(opening).unwrap();
    f.keeper.refused(opening, Refusal::NotOwner);
    f.keeper.keep(&finished("k-1")).unwrap();
    assert!(f.vault.get("k-1", ArtefactKind::Transcript).is_ok());
    assert_eq!(
        f.recorded(),
        ["consultation_started", "consultation_refused", "audio_received", "transcript_produced"],
        "no draft, so no draft_produced"
    );
    let again = f.keeper.open(opening);
    assert!(matches!(again, Err(storage::Error::Exists(_))), "{again:?}");
    assert_eq!(f.recorded().last().unwrap(), "consultation_refused");
}

#[test]
fn a_log_that_cannot_record_stores_nothing() {
    let f = Fixture::new();
    // An edited head: the log refuses to append after it, as it must.
    std::fs::write(f.data.join("audit").join(audit::HEAD_FILE), b"{\"forged\":true}\n").unwrap();
    let kept = f.keeper.keep(&finished("k-2"));
    assert!(matches!(kept, Err(KeepError::NotAudited(_))), "{kept:?}");
    assert!(f.vault.get("k-2", ArtefactKind::Transcript).is_err(), "stored without a record");
}
