//! Power cuts while data moves: hundreds of SIGKILLs of a process storing hang-ups through
//! `Keeper` (what `serve` runs at hang-up) and of a process running the retention sweep (what
//! `serve` and `retention sweep` run). After every kill the audit log must reopen and verify,
//! every artefact the vault will hand out must have its audit record, every deletion must have
//! its record, and the vault must never hand out a damaged file: a kill can lose the step it
//! interrupted, never the record of a step that happened.
//!
//! The killed process is this test binary itself, run with `--ignored --exact crash_workload`
//! and the workload named in `AUTONOTAR_CRASH_WORKLOAD`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ids::{ConsultationId, Id};
use storage::{Finished, Keeper, Opening, Principal, Sink};
use vault::{ArtefactKind, Kek, RetentionPolicy, Vault};

const WORKLOAD_ENV: &str = "AUTONOTAR_CRASH_WORKLOAD";
const DIR_ENV: &str = "AUTONOTAR_CRASH_DIR";
/// Kills per test: hundreds, each at a random moment of the workload.
const KILLS: usize = 300;

struct Store {
    data: PathBuf,
    audit_config: audit::AuditConfig,
    vault: Vault,
}

impl Store {
    /// Opens (creating on first use) the vault and audit key under `dir`.
    fn open(dir: &Path) -> Store {
        let key_file = dir.join("kek");
        if !key_file.exists() {
            vault::keys::init(&key_file).unwrap();
        }
        let data = dir.join("data");
        let vault = Vault::open(&data, Kek::load(&key_file).unwrap()).unwrap();
        let audit_config = audit::AuditConfig { key_file: Some(dir.join("audit-key")), ..Default::default() };
        Store { data, audit_config, vault }
    }

    fn audit(&self) -> Arc<Mutex<audit::AuditLog>> {
        Arc::new(Mutex::new(audit::AuditLog::open(&self.audit_config, &self.data).unwrap()))
    }

    /// Reopens the log (which cuts an unfinished last line, as after any crash), checks the
    /// whole chain, and returns the events recorded.
    fn recorded(&self) -> Vec<audit::Event> {
        drop(self.audit());
        let dir = self.audit_config.log_dir(&self.data);
        let key = audit::AuditKey::load(&self.audit_config.key_path(&self.data).unwrap()).unwrap();
        let verification = audit::verify(&dir, &key, &audit::VerifyOptions::default()).unwrap();
        assert!(matches!(verification, audit::Verification::Intact { .. }), "after a kill: {verification:?}");
        let (records, unreadable) = audit::read_records(&dir).unwrap();
        assert_eq!(unreadable, 0);
        records.into_iter().map(|record| record.event).collect()
    }
}

fn finished(id: &str) -> Finished {
    let segment = transcript::Segment {
        id: 0,
        speaker: transcript::Role::Patient,
        track: 1,
        start: 0.5,
        end: 2.0,
        text: "Jeg har haft ondt i halsen i tre dage.".into(),
        confidence: 0.9,
        words: Vec::new(),
    };
    // Storage treats the draft as bytes to keep; what is in it does not matter here.
    let draft = note::Draft {
        header: "Videokonsultation.".into(),
        sections: Vec::new(),
        attention: Vec::new(),
        model: "none".into(),
    };
    Finished {
        consultation: ConsultationId::new(id).unwrap(),
        doctor: Id::new("laege-01").unwrap(),
        transcript: transcript::Transcript::merge("da", 3.0, vec![Vec::new(), vec![segment]]),
        draft: Some(draft),
    }
}

/// Opens and stores consultations `<prefix>-0`, `<prefix>-1`, … as `serve` does at start and
/// hang-up, until killed (or `limit` is reached).
fn keep_consultations(store: &Store, prefix: &str, limit: usize) {
    let keeper = Keeper::new(store.vault.clone(), store.audit(), RetentionPolicy::default());
    let (doctor, principal) = (Id::new("laege-01").unwrap(), Principal::Key(Id::new("platform").unwrap()));
    for n in 0..limit {
        let call = finished(&format!("{prefix}-{n}"));
        keeper.open(Opening { consultation: &call.consultation, doctor: &doctor, principal: &principal }).unwrap();
        keeper.keep(&call).unwrap();
    }
}

/// The process the tests kill. Not a test on its own: without its environment it does nothing.
#[test]
#[ignore = "the workload the crash tests kill; they run it"]
fn crash_workload() {
    let (Ok(workload), Ok(dir)) = (std::env::var(WORKLOAD_ENV), std::env::var(DIR_ENV)) else { return };
    let store = Store::open(Path::new(&dir));
    match workload.split_once(':') {
        Some(("keep", prefix)) => keep_consultations(&store, prefix, usize::MAX),
        Some(("sweep", _)) => {
            let later = SystemTime::now() + Duration::from_secs(400 * 86_400);
            storage::retention::sweep(&store.vault, &store.audit(), &RetentionPolicy::default(), later).unwrap();
        }
        _ => panic!("unknown workload {workload:?}"),
    }
}

/// Starts the workload and kills it with SIGKILL after `after`; whether it had finished.
fn run_and_kill(dir: &Path, workload: &str, after: Duration) -> bool {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "crash_workload", "--nocapture", "--test-threads", "1"])
        .env(WORKLOAD_ENV, workload)
        .env(DIR_ENV, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let finished = child.try_wait().unwrap().is_some();
    child.kill().unwrap_or_default();
    child.wait().unwrap();
    finished
}

/// A cheap, seeded spread of kill times (no clock-derived randomness: a failure reruns alike).
fn kill_times(seed: u64, max_ms: u64) -> impl Iterator<Item = Duration> {
    let mut state = seed;
    std::iter::repeat_with(move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        Duration::from_micros(state % (max_ms * 1000))
    })
}

/// The `field` (an id) of every recorded event of type `kind`.
fn recorded_for(events: &[audit::Event], kind: &str, field: &str) -> HashSet<String> {
    events
        .iter()
        .map(|event| serde_json::to_value(event).unwrap())
        .filter(|json| json["type"] == kind)
        .map(|json| json[field].as_str().unwrap().to_owned())
        .collect()
}

/// What the vault will give out of one artefact: its bytes, or that it is gone. A damaged file
/// (a torn write read as data, or refused as tampered) fails the test.
fn readable(vault: &Vault, id: &str, kind: ArtefactKind) -> bool {
    match vault.get(id, kind) {
        Ok(bytes) => {
            let call = finished(id);
            let expected = match kind {
                ArtefactKind::Transcript => call.transcript.to_json(),
                _ => call.draft.unwrap().to_json(),
            };
            assert_eq!(*bytes, *expected.as_bytes(), "{id}: the vault gave out other bytes than were stored");
            true
        }
        Err(vault::Error::Missing { .. } | vault::Error::Shredded { .. }) => false,
        Err(other) => panic!("{id}: after a kill the vault gives {other}"),
    }
}

#[test]
fn killed_mid_hang_up_storage_nothing_is_stored_without_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path());
    let mut stored = 0;
    for (round, after) in kill_times(0x5eed_0001, 60).take(KILLS).enumerate() {
        let prefix = format!("k-{round}");
        run_and_kill(dir.path(), &format!("keep:{prefix}"), after);
        let events = store.recorded();
        let (started, transcripts, drafts) = (
            recorded_for(&events, "consultation_started", "consultation"),
            recorded_for(&events, "transcript_produced", "consultation"),
            recorded_for(&events, "draft_produced", "consultation"),
        );
        // The child got through calls 0..n; call n may have been cut anywhere.
        for n in 0.. {
            let id = format!("{prefix}-{n}");
            if !started.contains(&id) {
                assert!(store.vault.consultation(&id).is_err(), "{id} is in the vault but was never started");
                break;
            }
            if readable(&store.vault, &id, ArtefactKind::Transcript) {
                assert!(transcripts.contains(&id), "{id}: a transcript is stored that the log does not show");
                stored += 1;
            }
            if readable(&store.vault, &id, ArtefactKind::Draft) {
                assert!(drafts.contains(&id), "{id}: a draft is stored that the log does not show");
            }
        }
    }
    assert!(stored > KILLS / 2, "the kills came too early to test anything: {stored} stored");
}

#[test]
fn killed_mid_sweep_nothing_is_deleted_without_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path());
    let (mut kills, mut batch, mut interrupted) = (0, 0, 0);
    let mut times = kill_times(0x5eed_0002, 40);
    while kills < KILLS {
        let prefix = format!("k-{batch}");
        keep_consultations(&store, &prefix, 40);
        batch += 1;
        // Kill sweeps over this batch until one finishes it.
        loop {
            kills += 1;
            let finished = run_and_kill(dir.path(), "sweep:", times.next().unwrap());
            let events = store.recorded();
            let deleted = recorded_for(&events, "artefact_deleted", "artefact");
            let shredded = recorded_for(&events, "key_shredded", "consultation");
            let mut left = 0;
            for n in 0..40 {
                let id = format!("{prefix}-{n}");
                match store.vault.consultation(&id) {
                    Ok(_) => {
                        for kind in [ArtefactKind::Transcript, ArtefactKind::Draft] {
                            if !readable(&store.vault, &id, kind) {
                                let artefact = format!("{id}.{kind}");
                                assert!(
                                    deleted.contains(&artefact),
                                    "{artefact} is gone but its deletion is not recorded"
                                );
                            }
                        }
                        left += 1;
                    }
                    Err(vault::Error::Missing { .. } | vault::Error::Shredded { .. }) => {
                        assert!(shredded.contains(&id), "{id}: its keyring is shredded but that is not recorded");
                    }
                    Err(other) => panic!("{id}: after a kill the vault gives {other}"),
                }
            }
            if left > 0 && left < 40 {
                interrupted += 1;
            }
            if finished || left == 0 || kills >= KILLS {
                break;
            }
        }
    }
    assert!(interrupted > 10, "only {interrupted} kills landed mid-sweep; the timing tests nothing");
}
