//! How long drafting takes for a 15-minute and a 3-hour consultation, classifier included.
//!
//! cargo run --release -p note --example bench -- <corpus dir> [--models DIR]
//!
//! The transcripts are the corpus consultations one after another (typed, so at the nominal
//! 150 words a minute) until they last 15 minutes or 3 hours. Prints time per draft and its
//! ratio to the length of the consultation; it is a report, not a pass/fail test.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use fixtures::Consultation;
use note::{MODEL_FILE, OnnxClassifier};
use transcript::Transcript;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let corpus = PathBuf::from(args.next().ok_or("usage: bench <corpus dir> [--models DIR]")?);
    let models = match (args.next().as_deref(), args.next()) {
        (Some("--models"), Some(dir)) => PathBuf::from(dir),
        _ => std::env::var_os("AUTONOTAR_MODELS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/cache"))),
    };
    let model = OnnxClassifier::open(&models, &models.join(MODEL_FILE))?;
    let words = danish::Words::load(std::path::Path::new(danish::SYSTEM_DICTIONARY))?;
    let consultations = Consultation::load_all(&corpus)?;
    if consultations.is_empty() {
        return Err(format!("no consultations in {}", corpus.display()).into());
    }
    for (name, seconds, runs) in [("15 minutes", 15.0 * 60.0, 20), ("3 hours", 3.0 * 3600.0, 3)] {
        let mut tracks = Vec::new();
        let mut offset = 0.0;
        'fill: loop {
            for consultation in &consultations {
                let mut t = consultation.transcript();
                for s in &mut t.segments {
                    s.start += offset;
                    s.end += offset;
                }
                offset += t.duration;
                tracks.push(t.segments);
                if offset >= seconds {
                    break 'fill;
                }
            }
        }
        let transcript = Transcript::merge("da", offset, tracks);
        note::draft(&transcript, &model, &words)?; // warm-up
        let started = Instant::now();
        let mut statements = 0;
        for _ in 0..runs {
            let draft = note::draft(&transcript, &model, &words)?;
            statements = draft.sections.iter().map(|s| s.statements.len()).sum();
        }
        let per_draft = started.elapsed().as_secs_f64() / f64::from(runs);
        println!(
            "{name}: {} segments, {} statements, {:.1} ms per draft ({:.5} of real time)",
            transcript.segments.len(),
            statements,
            per_draft * 1000.0,
            per_draft / offset
        );
    }
    Ok(())
}
