//! Scores the note drafter on the annotated corpus, from its reference transcripts.
//!
//! cargo run -p note --example corpus_score -- <corpus dir> [--models DIR] [--split test|train|all] [--missed] [--show]
//!
//! Default split: test (the held-out part). `--missed` lists the facts the drafts miss;
//! `--show` prints each draft under its reference note. The model directory defaults to
//! $AUTONOTAR_MODELS_DIR, else <workspace>/models/cache.
//!
//! How it counts:
//! * fact recall: a fact counts when every one of its words occurs (case-insensitive) in the
//!   draft's section of the same name;
//! * statement precision: a statement counts when its section is the annotated label of at
//!   least one utterance it cites;
//! * unsupported statements: statements in the finished draft that fail the verifier when
//!   re-checked against the utterances they cite (`Draft::unsupported`; must be 0);
//! * dropped statements: candidates the verifier kept out of the draft (shown to the doctor);
//! * classifier accuracy: utterances whose predicted label equals the annotated one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use fixtures::{Consultation, Split};
use note::{Draft, Label, MODEL_FILE, NoteModel, OnnxClassifier, Section};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("corpus_score: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Counts, summed over consultations.
#[derive(Default)]
struct Score {
    /// Per section label: (facts recalled, facts).
    facts: BTreeMap<String, (usize, usize)>,
    statements: usize,
    statements_in_annotated_section: usize,
    unsupported: usize,
    dropped: usize,
    utterances: usize,
    utterances_labelled_right: usize,
    /// "consultation: section: words" for every fact not recalled.
    missed: Vec<String>,
}

impl Score {
    fn add(&mut self, consultation: &Consultation, draft: &Draft, labels: &[Label]) {
        for fact in &consultation.fact {
            let text = Section::from_label(&fact.section)
                .and_then(|s| draft.section(s))
                .map(|s| s.statements.iter().map(|st| st.text.to_lowercase()).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            let entry = self.facts.entry(fact.section.clone()).or_default();
            entry.1 += 1;
            if fact.words.iter().all(|w| text.contains(&w.to_lowercase())) {
                entry.0 += 1;
            } else {
                self.missed.push(format!("{}: {}: {}", consultation.id, fact.section, fact.words.join(" + ")));
            }
        }
        for section in &draft.sections {
            for statement in &section.statements {
                self.statements += 1;
                let labelled = |id: &u32| consultation.utterance.get(*id as usize).map(|u| u.label.as_str());
                if statement.evidence.segments.iter().any(|id| labelled(id) == Some(section.section.label())) {
                    self.statements_in_annotated_section += 1;
                }
            }
        }
        self.unsupported += draft.unsupported(&consultation.transcript()).len();
        self.dropped += draft.attention.iter().filter(|a| a.section.is_some()).count();
        for (label, utterance) in labels.iter().zip(&consultation.utterance) {
            self.utterances += 1;
            if label.section.map_or("none", Section::label) == utterance.label {
                self.utterances_labelled_right += 1;
            }
        }
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { f64::NAN } else { part as f64 / whole as f64 }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut corpus = None;
    let mut models = std::env::var_os("AUTONOTAR_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/cache")));
    let mut split = "test".to_string();
    let (mut show_missed, mut show_drafts) = (false, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--models" => models = args.next().ok_or("--models needs a directory")?.into(),
            "--split" => split = args.next().ok_or("--split needs test, train or all")?,
            "--missed" => show_missed = true,
            "--show" => show_drafts = true,
            _ if corpus.is_none() => corpus = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg:?}").into()),
        }
    }
    let corpus =
        corpus.ok_or("usage: corpus_score <corpus dir> [--models DIR] [--split test|train|all] [--missed] [--show]")?;
    let wanted = match split.as_str() {
        "test" => Some(Split::Test),
        "train" => Some(Split::Train),
        "all" => None,
        other => return Err(format!("--split {other:?}: use test, train or all").into()),
    };
    let model = OnnxClassifier::open(&models, &models.join(MODEL_FILE))?;
    let consultations: Vec<Consultation> =
        Consultation::load_all(&corpus)?.into_iter().filter(|c| wanted.is_none_or(|w| c.split == w)).collect();
    let mut score = Score::default();
    for consultation in &consultations {
        let transcript = consultation.transcript();
        let labels = model.classify(&transcript)?;
        let draft = note::draft(&transcript, &model)?;
        score.add(consultation, &draft, &labels);
        if show_drafts {
            println!(
                "=== {}\n--- reference\n{}--- draft\n{}",
                consultation.id,
                consultation.reference_note.trim_start(),
                draft.to_text()
            );
        }
    }
    println!(
        "corpus {} split {split}: {} consultations, {} utterances",
        corpus.display(),
        consultations.len(),
        score.utterances
    );
    println!(
        "classifier accuracy (utterance label): {:.3} ({}/{})",
        ratio(score.utterances_labelled_right, score.utterances),
        score.utterances_labelled_right,
        score.utterances
    );
    println!("fact recall per section:");
    for (section, (found, total)) in &score.facts {
        println!("  {section:<14} {:.3} ({found}/{total})", ratio(*found, *total));
    }
    let total: usize = score.facts.values().map(|f| f.1).sum();
    let found: usize = score.facts.values().map(|f| f.0).sum();
    println!("fact recall overall: {:.3} ({found}/{total})", ratio(found, total));
    println!(
        "statement precision (section matches an evidence utterance's label): {:.3} ({}/{})",
        ratio(score.statements_in_annotated_section, score.statements),
        score.statements_in_annotated_section,
        score.statements
    );
    println!("unsupported statements: {}", score.unsupported);
    println!("statements dropped by the verifier (listed for the doctor): {}", score.dropped);
    if show_missed {
        for missed in &score.missed {
            println!("missed {missed}");
        }
    }
    Ok(())
}
