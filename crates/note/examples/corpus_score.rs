//! Scores the note drafter on the held-out part of the annotated corpus.
//!
//! cargo run -p note --example corpus_score -- <corpus dir> [--models DIR] [--split test|train|all] [--missed] [--show]
//!
//! `--missed` lists the facts the drafts miss; `--show` prints each draft under its reference note.
//!
//! The model directory defaults to $AUTONOTAR_MODELS_DIR, else <workspace>/models/cache.

use std::path::PathBuf;
use std::process::ExitCode;

use note::corpus::{Score, load_dir, ratio};
use note::{MODEL_FILE, NoteModel, OnnxClassifier};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("corpus_score: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut corpus = None;
    let mut models = std::env::var_os("AUTONOTAR_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/cache")));
    let mut split = "test".to_string();
    let mut show_missed = false;
    let mut show_drafts = false;
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
    let corpus = corpus.ok_or("usage: corpus_score <corpus dir> [--models DIR] [--split test|train|all] [--missed] [--show]")?;
    let model = OnnxClassifier::open(&models, &models.join(MODEL_FILE))?;
    let consultations: Vec<_> =
        load_dir(&corpus)?.into_iter().filter(|c| split == "all" || c.split == split).collect();
    let mut score = Score::default();
    for consultation in &consultations {
        let transcript = consultation.transcript()?;
        let labels = model.classify(&transcript)?;
        let draft = note::draft(&transcript, &model)?;
        score.add(consultation, &draft, &labels);
        if show_drafts {
            println!("=== {}\n--- reference\n{}--- draft\n{}", consultation.id, consultation.reference_note.trim_start(), draft.to_text());
        }
    }
    println!("corpus {} split {split}: {} consultations, {} utterances", corpus.display(), consultations.len(), score.utterances);
    println!("classifier accuracy (utterance label): {:.3} ({}/{})", score.classifier_accuracy(), score.utterances_labelled_right, score.utterances);
    println!("fact recall per section:");
    for (section, (found, total)) in &score.facts {
        println!("  {section:<14} {:.3} ({found}/{total})", ratio(*found, *total));
    }
    let total: usize = score.facts.values().map(|f| f.1).sum();
    let found: usize = score.facts.values().map(|f| f.0).sum();
    println!("fact recall overall: {:.3} ({found}/{total})", score.fact_recall());
    println!(
        "statement precision (section matches an evidence utterance's label): {:.3} ({}/{})",
        score.statement_precision(),
        score.statements_in_annotated_section,
        score.statements
    );
    println!("unsupported statements: {}", score.unsupported);
    if show_missed {
        for missed in &score.missed {
            println!("missed {missed}");
        }
    }
    Ok(())
}
