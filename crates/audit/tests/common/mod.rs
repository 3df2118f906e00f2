//! A real log in a temporary data directory, and the events of a real consultation.
#![allow(dead_code)] // each test binary uses its own subset

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use audit::{AuditConfig, AuditKey, AuditLog, DraftUse, Event, Id, Timestamp, Verification, VerifyOptions};

pub const DAY: Duration = Duration::from_secs(86_400);

pub fn id(text: &str) -> Id {
    Id::new(text).unwrap()
}

pub struct TestLog {
    pub data_dir: tempfile::TempDir,
    pub config: AuditConfig,
}

impl TestLog {
    pub fn new() -> TestLog {
        TestLog::with_config(AuditConfig::default())
    }

    /// Segments of the smallest allowed size, so a few hundred records rotate.
    pub fn small_segments() -> TestLog {
        TestLog::with_config(AuditConfig {
            max_file_bytes: 2 * audit::MAX_RECORD_BYTES as u64,
            ..AuditConfig::default()
        })
    }

    pub fn with_config(config: AuditConfig) -> TestLog {
        TestLog { data_dir: tempfile::tempdir().unwrap(), config }
    }

    pub fn open(&self) -> AuditLog {
        AuditLog::open(&self.config, self.data_dir.path()).unwrap()
    }

    pub fn key(&self) -> AuditKey {
        AuditKey::load(&self.config.key_path(self.data_dir.path()).unwrap()).unwrap()
    }

    pub fn dir(&self) -> PathBuf {
        self.config.log_dir(self.data_dir.path())
    }

    pub fn verify(&self) -> Verification {
        audit::verify(&self.dir(), &self.key(), &VerifyOptions::default()).unwrap()
    }

    pub fn segment(&self, index: u32) -> PathBuf {
        self.dir().join(format!("audit-{index:06}.jsonl"))
    }

    pub fn segment_count(&self) -> usize {
        fs::read_dir(self.dir())
            .unwrap()
            .filter(|entry| entry.as_ref().unwrap().file_name().to_string_lossy().ends_with(".jsonl"))
            .count()
    }

    /// Appends `count` consultations' worth of events directly.
    pub fn fill(&self, consultations: u32) -> AuditLog {
        let mut log = self.open();
        for number in 0..consultations {
            for event in consultation(number, "doc1", Timestamp::now()) {
                log.append(event).unwrap();
            }
        }
        log
    }

    pub fn lines(&self, index: u32) -> Vec<String> {
        fs::read_to_string(self.segment(index)).unwrap().lines().map(str::to_owned).collect()
    }

    pub fn write_lines(&self, index: u32, lines: &[String]) {
        fs::write(self.segment(index), lines.iter().map(|line| format!("{line}\n")).collect::<String>()).unwrap();
    }
}

/// Everything a consultation that goes well produces, from consent to export.
/// Transcript and draft are promised deletion within 14 days, the draft within a day of export.
pub fn consultation(number: u32, doctor: &str, now: Timestamp) -> Vec<Event> {
    let consultation = id(&format!("c{number:06}"));
    let doctor = id(doctor);
    let draft = id(&format!("c{number:06}.draft"));
    let used = |delete_by| DraftUse {
        consultation: consultation.clone(),
        artefact: draft.clone(),
        doctor: doctor.clone(),
        delete_by,
    };
    vec![
        Event::ConsultationStarted { consultation: consultation.clone(), doctor: doctor.clone(), ingest_key: None },
        Event::AudioReceived { consultation: consultation.clone(), duration_ms: 754_000 },
        Event::TranscriptProduced {
            consultation: consultation.clone(),
            artefact: id(&format!("c{number:06}.transcript")),
            delete_by: now.plus(14 * DAY),
        },
        Event::DraftProduced {
            consultation: consultation.clone(),
            artefact: draft.clone(),
            delete_by: now.plus(14 * DAY),
        },
        Event::DraftViewed(used(None)),
        Event::DraftEdited(used(None)),
        Event::DraftApproved(used(None)),
        Event::DraftExported(used(Some(now.plus(DAY)))),
    ]
}

/// What the retention sweep records when it shreds the consultation's key.
pub fn shredded(number: u32) -> Event {
    Event::KeyShredded {
        consultation: id(&format!("c{number:06}")),
        key: id(&format!("dk-c{number:06}")),
        artefacts: vec![id(&format!("c{number:06}.transcript")), id(&format!("c{number:06}.draft"))],
        policy: id("after-export-1d"),
    }
}
