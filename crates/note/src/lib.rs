//! Drafts a Danish journal note from a consultation transcript.
//!
//! The pipeline is a model plus rules, strong by construction rather than by size: a small
//! section classifier ([`NoteModel`], by default [`OnnxClassifier`] run by ONNX Runtime) says
//! which utterances belong in the note and where; rules extract symptoms with negation and
//! duration, measurements, medications with dose and frequency, allergies and plan actions, and
//! write them in telegraphic note style; the [verifier](verify::verify) then checks every number,
//! drug, dose and negation of each statement against the utterances it cites. A statement that
//! fails never enters the note: it is listed under "Til lægens opmærksomhed" with its evidence.

mod classifier;
mod compose;
mod draft;
pub mod features;
mod lexicon;
pub mod verify;

use std::path::{Path, PathBuf};

use danish::Words;
use transcript::{Role, Segment, Transcript};

pub use classifier::{LABELS, Label, MODEL_FILE, NoteModel, OnnxClassifier, Section, transcript_features};
pub use draft::{Attention, Change, Draft, Evidence, Kind, NoteSection, Statement, Value};
pub use lexicon::priming_words;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Runtime(#[from] onnx::Error),
    #[error("the note model {path} does not fit this version of autonotar: {reason} (run `autonotar models fetch`)")]
    IncompatibleModel { path: PathBuf, reason: String },
    #[error("the note model {path} failed: {reason}")]
    Inference { path: PathBuf, reason: String },
    #[error("the note model returned {got} labels for {expected} utterances")]
    LabelCount { expected: usize, got: usize },
    #[error("cannot read the transcript {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid transcript: {reason}")]
    BadTranscript { path: PathBuf, reason: String },
    #[error("{0}: a transcript must be a .json or .txt file (a recording is transcribed first)")]
    UnknownFormat(PathBuf),
}

/// Reads a transcript file: `.json` as written by `autonotar transcribe`, `.txt` in the
/// `Læge: …` / `Patient: …` format.
pub fn load_transcript(path: &Path) -> Result<Transcript, Error> {
    let extension = path.extension().map(|e| e.to_string_lossy().to_lowercase());
    let parse: fn(&str) -> Result<Transcript, transcript::Error> = match extension.as_deref() {
        Some("json") => Transcript::from_json,
        Some("txt") => Transcript::parse_txt,
        _ => return Err(Error::UnknownFormat(path.to_path_buf())),
    };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    parse(&text).map_err(|e| Error::BadTranscript { path: path.to_path_buf(), reason: e.to_string() })
}

/// A recogniser word below this probability is marked for the doctor to listen to again.
const UNCERTAIN_WORD: f32 = 0.5;
/// A segment below this mean confidence (and without word timings) is marked as a whole.
const UNCERTAIN_SEGMENT: f32 = 0.6;

/// Drafts the note for `transcript`, classifying its utterances with `model`; a statement with
/// a word that is not Danish (`words`) goes to the doctor's attention instead of the note.
pub fn draft(transcript: &Transcript, model: &dyn NoteModel, words: &Words) -> Result<Draft, Error> {
    let segments = &transcript.segments;
    let mut attention = Vec::new();
    if segments.iter().all(|s| s.text.trim().is_empty()) {
        attention.push(remark("Transskriptionen er tom.", "der er intet at skrive et notat ud fra"));
        return Ok(Draft { header: header(segments), sections: Vec::new(), attention, model: model.name() });
    }
    if looks_english(transcript) {
        // The rules and the lexicons read Danish; copying English sentences into a Danish note
        // would help no one.
        attention.push(remark(
            "Samtalen ser ud til at være på engelsk.",
            "reglerne læser kun dansk; skriv notatet selv ud fra samtalen",
        ));
        return Ok(Draft { header: header(segments), sections: Vec::new(), attention, model: model.name() });
    }
    let labels = model.classify(transcript)?;
    if labels.len() != segments.len() {
        return Err(Error::LabelCount { expected: segments.len(), got: labels.len() });
    }
    let (mut sections, dropped) = assemble(segments, compose::candidates(segments, &labels), words);
    attention.extend(dropped);
    sections.sort_by_key(|s| s.section);
    if sections.is_empty() {
        attention.push(remark(
            "Intet journalrelevant indhold fundet.",
            "samtalen indeholder kun hilsner, småsnak eller tale om forbindelsen",
        ));
    }
    Ok(Draft { header: header(segments), sections, attention, model: model.name() })
}

/// The drafter a long-running service holds: a note model opened once, or, when it could not
/// be opened, the reason, so that every draft asked of it says why there is none instead of the
/// service refusing to start.
pub struct Drafter {
    parts: Result<(Box<dyn NoteModel + Send + Sync>, Words), String>,
}

impl Drafter {
    /// Drafts with `model`, checking words against `words`.
    pub fn new(model: impl NoteModel + Send + Sync + 'static, words: Words) -> Drafter {
        Drafter { parts: Ok((Box::new(model), words)) }
    }

    /// Drafts with the section model `model` (ONNX Runtime from `models_dir`) and the Danish
    /// dictionary `dictionary` (`danish::Words::load`), or holds why it cannot.
    pub fn open(models_dir: &Path, model: &Path, dictionary: &Path) -> Drafter {
        let parts = OnnxClassifier::open(models_dir, model)
            .map_err(|e| e.to_string())
            .and_then(|model| Ok((Box::new(model) as _, Words::load(dictionary).map_err(|e| e.to_string())?)));
        Drafter { parts }
    }

    /// Why this drafter cannot draft, if it cannot.
    pub fn problem(&self) -> Option<&str> {
        self.parts.as_ref().err().map(String::as_str)
    }

    /// The draft of `transcript`, or why there is none, in one line for the client.
    pub fn draft(&self, transcript: &Transcript) -> Result<Draft, String> {
        let (model, words) = self.parts.as_ref().map_err(Clone::clone)?;
        draft(transcript, model.as_ref(), words).map_err(|e| e.to_string())
    }
}

/// Verifies each candidate against the segments it cites: those that pass become statements
/// in their section, those that fail become points for the doctor's attention.
fn assemble(
    segments: &[Segment],
    candidates: Vec<compose::Candidate>,
    words: &Words,
) -> (Vec<NoteSection>, Vec<Attention>) {
    let mut sections: Vec<NoteSection> = Vec::new();
    let mut attention = Vec::new();
    for candidate in candidates {
        let cited: Vec<&Segment> = candidate.segments.iter().filter_map(|&i| segments.get(i)).collect();
        let evidence = Evidence {
            segments: cited.iter().map(|s| s.id).collect(),
            start: cited.iter().map(|s| s.start).fold(f64::INFINITY, f64::min),
            end: cited.iter().map(|s| s.end).fold(f64::NEG_INFINITY, f64::max),
        };
        let said: Vec<&str> = cited.iter().map(|s| s.text.as_str()).collect();
        let verdict = if cited.is_empty() {
            Err("ingen udsagn i samtalen at henvise til".to_string())
        } else {
            let evidence = said.join(" ");
            verify::verify(&candidate.text, &evidence)
                .and_then(|()| verify::heard_as_danish(&candidate.text, &evidence, words))
        };
        if let Err(reason) = verdict {
            attention.push(Attention {
                text: candidate.text,
                reason,
                section: Some(candidate.section),
                evidence: Some(evidence),
                quotes: cited.iter().map(|s| format!("{}: {}", s.speaker.danish(), s.text)).collect(),
            });
            continue;
        }
        let recogniser = cited.iter().map(|s| s.confidence).fold(1.0_f32, f32::min);
        let statement = Statement {
            text: candidate.text,
            kind: candidate.kind,
            values: candidate.values,
            evidence,
            confidence: candidate.probability * recogniser,
            uncertain_words: uncertain_words(&cited),
        };
        add(&mut sections, candidate.section, statement);
    }
    (sections, attention)
}

/// Adds a statement to its section; the same statement said twice keeps the first wording and
/// cites both places.
fn add(sections: &mut Vec<NoteSection>, section: Section, statement: Statement) {
    let index = match sections.iter().position(|s| s.section == section) {
        Some(index) => index,
        None => {
            sections.push(NoteSection { section, heading: section.heading().to_string(), statements: Vec::new() });
            sections.len() - 1
        }
    };
    let statements = &mut sections[index].statements;
    match statements.iter_mut().find(|s| s.text.to_lowercase() == statement.text.to_lowercase()) {
        Some(existing) => {
            existing.evidence.segments.extend(&statement.evidence.segments);
            existing.evidence.segments.sort_unstable();
            existing.evidence.segments.dedup();
            existing.evidence.start = existing.evidence.start.min(statement.evidence.start);
            existing.evidence.end = existing.evidence.end.max(statement.evidence.end);
        }
        None => statements.push(statement),
    }
}

fn remark(text: &str, reason: &str) -> Attention {
    Attention { text: text.into(), reason: reason.into(), section: None, evidence: None, quotes: Vec::new() }
}

fn uncertain_words(cited: &[&Segment]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for segment in cited {
        if segment.words.is_empty() && segment.confidence < UNCERTAIN_SEGMENT {
            out.push(format!("«{}»", segment.text.trim()));
        }
        for word in segment.words.iter().filter(|w| w.probability < UNCERTAIN_WORD) {
            let word = word.text.trim().to_string();
            if !word.is_empty() && !out.contains(&word) {
                out.push(word);
            }
        }
    }
    out
}

/// "Videokonsultation." and who else took part, as far as the transcript shows it.
fn header(segments: &[Segment]) -> String {
    if !segments.iter().any(|s| s.speaker == Role::Other) {
        return "Videokonsultation.".into();
    }
    let said = |stems: &[&str]| {
        segments.iter().any(|s| features::tokens(&s.text).iter().any(|w| stems.iter().any(|stem| w.starts_with(stem))))
    };
    let who = if said(&["tolk"]) {
        "tolk"
    } else if said(&["hjemmepleje", "hjemmehjælp", "sosu", "hjemmesygeplej"]) {
        "hjemmeplejen"
    } else if said(&["mor", "far", "datter", "søn", "barn"]) {
        "pårørende"
    } else {
        "anden deltager"
    };
    format!("Videokonsultation med {who}.")
}

const DANISH: &[&str] = &[
    "og", "jeg", "det", "er", "har", "du", "ikke", "at", "på", "med", "til", "den", "så", "der", "ja", "nej", "hvad",
    "godt", "lidt", "mig",
];
const ENGLISH: &[&str] = &[
    "the", "and", "you", "have", "is", "it", "to", "of", "my", "not", "been", "yes", "what", "with", "this", "that",
    "do", "for", "are", "your",
];

fn looks_english(transcript: &Transcript) -> bool {
    let words: Vec<String> = transcript.segments.iter().flat_map(|s| features::tokens(&s.text)).collect();
    let count = |list: &[&str]| words.iter().filter(|w| list.contains(&w.as_str())).count();
    let english = count(ENGLISH);
    transcript.language == "en" || (english >= 5 && english > 2 * count(DANISH))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::Candidate;

    /// The words these statements are made of: the word check passes them all.
    fn words() -> Words {
        Words::new("SET UTF-8\n", "2\nfeber\ningen\n").unwrap()
    }

    fn said(id: u32, speaker: Role, text: &str) -> Segment {
        Segment {
            id,
            speaker,
            track: 0,
            start: f64::from(id) * 3.0,
            end: f64::from(id) * 3.0 + 2.5,
            text: text.into(),
            confidence: 1.0,
            words: Vec::new(),
        }
    }

    fn candidate(section: Section, text: &str, segments: Vec<usize>) -> Candidate {
        Candidate { section, text: text.into(), kind: Kind::Summary, values: Vec::new(), segments, probability: 0.9 }
    }

    #[test]
    fn a_statement_the_evidence_does_not_support_goes_to_the_doctor_not_the_note() {
        let segments =
            [said(0, Role::Doctor, "Har du haft feber?"), said(1, Role::Patient, "Ja, otteogtredive komma fem.")];
        let (sections, attention) = assemble(
            &segments,
            vec![
                candidate(Section::Anamnese, "Feber 38,5.", vec![0, 1]),
                candidate(Section::Anamnese, "Feber 39,5.", vec![0, 1]),
                candidate(Section::Anamnese, "Ingen feber.", vec![1]),
                candidate(Section::Plan, "Ibuprofen 400 mg.", vec![1]),
            ],
            &words(),
        );
        let kept: Vec<&str> = sections.iter().flat_map(|s| &s.statements).map(|s| s.text.as_str()).collect();
        assert_eq!(kept, ["Feber 38,5."]);
        let dropped: Vec<&str> = attention.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(dropped, ["Feber 39,5.", "Ingen feber.", "Ibuprofen 400 mg."]);
        assert!(attention[0].reason.contains("39,5"), "{}", attention[0].reason);
        assert_eq!(attention[0].quotes, ["Læge: Har du haft feber?", "Patient: Ja, otteogtredive komma fem."]);
        assert_eq!(attention[0].evidence.as_ref().map(|e| (e.start, e.end)), Some((0.0, 5.5)));
    }

    #[test]
    fn a_tampered_draft_shows_its_unsupported_statements() {
        let segments = vec![said(0, Role::Patient, "Otteogtredive komma fem.")];
        let (sections, _) = assemble(&segments, vec![candidate(Section::Anamnese, "Feber 38,5.", vec![0])], &words());
        let transcript = Transcript { language: "da".into(), duration: 3.0, segments };
        let mut draft =
            Draft { header: "Videokonsultation.".into(), sections, attention: Vec::new(), model: "test".into() };
        assert!(draft.unsupported(&transcript).is_empty());
        draft.sections[0].statements[0].text = "Feber 39,5.".into();
        assert_eq!(draft.unsupported(&transcript).len(), 1);
        draft.sections[0].statements[0].evidence.segments = vec![7];
        draft.sections[0].statements[0].text = "Feber 38,5.".into();
        assert_eq!(draft.unsupported(&transcript).len(), 1, "citing a segment that does not exist");
    }

    #[test]
    fn the_same_statement_twice_is_one_statement_citing_both() {
        let segments = [said(0, Role::Patient, "Ingen feber."), said(1, Role::Patient, "Nej, ingen feber.")];
        let (sections, attention) = assemble(
            &segments,
            vec![
                candidate(Section::Anamnese, "Ingen feber.", vec![0]),
                candidate(Section::Anamnese, "Ingen feber.", vec![1]),
            ],
            &words(),
        );
        assert!(attention.is_empty());
        assert_eq!(sections[0].statements.len(), 1);
        assert_eq!(sections[0].statements[0].evidence.segments, [0, 1]);
    }

    #[test]
    fn unsure_words_are_carried_to_the_statement() {
        let mut segment = said(0, Role::Patient, "Otteogtredive komma fem.");
        segment.words =
            vec![transcript::Word { text: " Otteogtredive".into(), start: 0.0, end: 1.0, probability: 0.3 }];
        let (sections, _) = assemble(&[segment], vec![candidate(Section::Anamnese, "Feber 38,5.", vec![0])], &words());
        assert_eq!(sections[0].statements[0].uncertain_words, ["Otteogtredive"]);
    }
}
