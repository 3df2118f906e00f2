//! A review app over a fresh encrypted vault and audit log, with drafts made by `note::draft`
//! from the fixture corpus, served on a loopback port.

#![allow(dead_code)] // each test binary uses its own part of this

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use audit::{AuditConfig, AuditLog, Id};
use note::{Label, NoteModel, Section};
use review::{LinkSecret, ReviewConfig, ReviewState};
use transcript::{Transcript, Word};
use vault::{ArtefactKind, Kek, Milestone, Vault};

/// Sections from the corpus annotations: the review app is under test here, not the classifier.
pub struct Annotated(pub Vec<String>);

impl NoteModel for Annotated {
    fn classify(&self, transcript: &Transcript) -> Result<Vec<Label>, note::Error> {
        Ok(self
            .0
            .iter()
            .take(transcript.segments.len())
            .map(|label| Label { section: Section::from_label(label), probability: 0.95 })
            .collect())
    }

    fn name(&self) -> String {
        "corpus-annotations".into()
    }
}

pub struct App {
    pub dir: tempfile::TempDir,
    pub vault: Vault,
    pub audit_dir: PathBuf,
    pub secret: LinkSecret,
    pub state: ReviewState,
    pub addr: Option<SocketAddr>,
}

impl App {
    pub fn new() -> App {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let vault = Vault::open(&data, Kek::generate().unwrap()).unwrap();
        let config = AuditConfig { fsync: false, ..AuditConfig::default() };
        let log = AuditLog::open(&config, &data).unwrap();
        let audit_dir = config.log_dir(&data);
        let secret = LinkSecret::generate().unwrap();
        let state = ReviewState::new(vault.clone(), Arc::new(Mutex::new(log)), secret.clone(), ReviewConfig::default());
        App { dir, vault, audit_dir, secret, state, addr: None }
    }

    /// Stores consultation `id` for `doctor` from the fixture `fixture` (see [`seed`]).
    pub fn seed(&self, id: &str, doctor: &str, fixture: &str) -> Transcript {
        seed(&self.vault, id, doctor, fixture)
    }

    /// Adds to the stored draft of `id` what the verifier does with a statement the transcript
    /// does not support: a point under "Til lægens opmærksomhed" citing the segment with `said`.
    pub fn add_attention(&self, id: &str, text: &str, said: &str) {
        let transcript = transcript::Transcript::from_json(
            std::str::from_utf8(&self.vault.get(id, ArtefactKind::Transcript).unwrap()).unwrap(),
        )
        .unwrap();
        let segment =
            transcript.segments.iter().find(|s| s.text.contains(said)).expect("the cited words are in the transcript");
        let mut draft: note::Draft = serde_json::from_slice(&self.vault.get(id, ArtefactKind::Draft).unwrap()).unwrap();
        draft.attention.push(note::Attention {
            text: text.into(),
            reason: note::verify::verify(text, &segment.text).expect_err("the statement is unsupported"),
            section: Some(Section::Anamnese),
            evidence: Some(note::Evidence { segments: vec![segment.id], start: segment.start, end: segment.end }),
            quotes: vec![format!("{}: {}", segment.speaker.danish(), segment.text)],
        });
        self.vault.put(id, ArtefactKind::Draft, draft.to_json().as_bytes()).unwrap();
    }

    /// A consultation still being recorded: created and assigned, nothing else yet.
    pub fn seed_recording(&self, id: &str, doctor: &str) {
        self.vault.create(id, false).unwrap();
        review::assign_doctor(&self.vault, id, &Id::new(doctor).unwrap()).unwrap();
    }

    pub fn link(&self, doctor: &str, consultation: Option<&str>, ttl: Duration) -> String {
        let base = format!("http://{}", self.addr.expect("served"));
        let consultation = consultation.map(|c| Id::new(c).unwrap());
        review::sign_link(&self.secret, &base, &Id::new(doctor).unwrap(), consultation.as_ref(), SystemTime::now(), ttl)
            .unwrap()
    }

    /// Serves the app on a free loopback port in a background runtime.
    pub fn serve(&mut self) -> SocketAddr {
        let router = review::router(self.state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, router).await.unwrap();
            });
        });
        self.addr = Some(addr);
        addr
    }

    /// The audit events so far, as their `type` names with the doctor each names.
    pub fn audit_events(&self) -> Vec<audit::Event> {
        let (records, unreadable) = audit::read_records(&self.audit_dir).unwrap();
        assert_eq!(unreadable, 0);
        records.into_iter().map(|r| r.event).collect()
    }
}

/// Stores consultation `id` for `doctor` as the pipeline would: transcript, then a draft made by
/// `note::draft` from the fixture `fixture`. Returns the transcript.
pub fn seed(vault: &Vault, id: &str, doctor: &str, fixture: &str) -> Transcript {
    let path = fixtures::corpus_dir().join(format!("{fixture}.toml"));
    let script = fixtures::Consultation::load(&path).expect("fixture");
    let mut transcript = script.transcript();
    mark_uncertain(&mut transcript);
    let labels = script.utterance.iter().map(|u| u.label.clone()).collect();
    store(vault, id, doctor, &transcript, labels);
    transcript
}

/// Stores `transcript` and its draft (sections from `labels`, one per segment) as `doctor`'s.
pub fn store(vault: &Vault, id: &str, doctor: &str, transcript: &Transcript, labels: Vec<String>) {
    let draft = note::draft(transcript, &Annotated(labels), fixtures::danish_words()).expect("draft");
    vault.create(id, false).unwrap();
    review::assign_doctor(vault, id, &Id::new(doctor).unwrap()).unwrap();
    vault.put(id, ArtefactKind::Transcript, transcript.to_json().as_bytes()).unwrap();
    vault.record(id, Milestone::TranscriptFinal).unwrap();
    vault.put(id, ArtefactKind::Draft, draft.to_json().as_bytes()).unwrap();
}

/// The recogniser was unsure of a few words in one patient utterance with a number in it, as it
/// would be on a poor line.
fn mark_uncertain(transcript: &mut Transcript) {
    let Some(segment) = transcript
        .segments
        .iter_mut()
        .find(|s| s.speaker == transcript::Role::Patient && s.text.split_whitespace().count() >= 4)
    else {
        return;
    };
    let words: Vec<String> = segment.text.split_whitespace().map(str::to_string).collect();
    let step = (segment.end - segment.start) / words.len() as f64;
    segment.words = words
        .iter()
        .enumerate()
        .map(|(i, text)| Word {
            text: format!(" {text}"),
            start: segment.start + step * i as f64,
            end: segment.start + step * (i + 1) as f64,
            probability: if i % 3 == 1 { 0.3 } else { 0.9 },
        })
        .collect();
    segment.confidence = 0.55;
}
