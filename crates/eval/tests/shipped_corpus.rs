//! The shipped manifest `eval/corpora/synthetic-da/manifest.toml` and the fixture scripts.

use std::path::{Path, PathBuf};

use std::sync::atomic::AtomicBool;

use eval::note::{Ratio, score_note};
use eval::{Audio, Corpus, Draft, DraftSection, ReferencePipeline, RunOptions, RunResults, Section, Statement, run};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A silent three-channel WAV header with no samples: enough for the manifest's audio check.
fn write_empty_wav(path: &Path) {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&36u32.to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    for (value, width) in [(16u32, 4), (1, 2), (3, 2), (16_000, 4), (96_000, 4), (6, 2), (16, 2)] {
        bytes.extend_from_slice(&value.to_le_bytes()[..width]);
    }
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&0u32.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn the_shipped_manifest_lists_every_fixture_script_and_each_loads() {
    let corpus = Corpus::load(&repository().join("eval/corpora/synthetic-da/manifest.toml")).unwrap();
    assert_eq!(corpus.name, "synthetic-da");
    for spec in &corpus.consultations {
        let script = spec.script.as_ref().expect("every entry names its fixture script");
        assert!(script.ends_with(format!("fixtures/consultations/{}.toml", spec.id)), "{}", script.display());
        let Audio::Multichannel { path, roles } = &spec.audio else { panic!("{}: one WAV per consultation", spec.id) };
        assert!(path.ends_with(format!("synthetic-da/audio/{}.wav", spec.id)));
        assert_eq!(roles.len(), 3);
    }

    // The manifest must list exactly the scripts in fixtures/consultations/, and every one must
    // load (with stand-in audio: rendering needs espeak-ng, tested below).
    let entries = std::fs::read_dir(repository().join("fixtures/consultations")).unwrap();
    let mut on_disk: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".toml").map(str::to_string))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = corpus.consultations.iter().map(|c| c.id.clone()).collect();
    listed.sort();
    assert_eq!(listed, on_disk, "run eval/corpora/synthetic-da/generate.sh");

    let audio = tempfile::tempdir().unwrap();
    for id in &listed {
        write_empty_wav(&audio.path().join(format!("{id}.wav")));
    }
    let corpus = corpus.with_audio_dir(audio.path());
    let problems: Vec<String> = corpus.problems().iter().map(|(id, e)| format!("{id}: {e}")).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    for spec in &corpus.consultations {
        let references = spec.load().unwrap().references;
        assert!(
            references.transcript.is_some() && references.note.is_some() && references.facts.is_some(),
            "{}",
            spec.id
        );
    }
}

/// The reference note as a draft: one statement per `Heading: text` line.
fn reference_note_as_draft(note: &str) -> Draft {
    let sections = note
        .lines()
        .filter_map(|line| {
            let (heading, text) = line.split_once(':')?;
            Section::from_name(heading)?;
            Some(DraftSection {
                heading: heading.to_string(),
                statements: vec![Statement { text: text.to_string(), evidence: vec![] }],
            })
        })
        .collect();
    Draft { sections, rendered: note.to_string() }
}

#[test]
fn every_reference_note_recalls_all_its_facts_in_their_sections() {
    // The facts are written from the reference notes, so the metric must find every one of them
    // there: this checks the metric (normaliser, phrase matching) and the corpus together.
    let corpus = Corpus::load(&repository().join("eval/corpora/synthetic-da/manifest.toml")).unwrap();
    let mut total = Ratio::default();
    for spec in &corpus.consultations {
        let script = spec.script.as_ref().unwrap();
        let consultation = fixtures::Consultation::load(script).unwrap();
        let facts: Vec<eval::note::Fact> = consultation
            .fact
            .iter()
            .map(|f| eval::note::Fact { section: Section::from_name(&f.section).unwrap(), words: f.words.clone() })
            .collect();
        let note = &consultation.reference_note;
        let scores = score_note(&reference_note_as_draft(note), &consultation.transcript(), Some(&facts), Some(note));
        let missed: Vec<_> = scores.missed_facts.iter().map(|m| &m.fact.words).collect();
        assert!(missed.is_empty(), "{}: {missed:?}", spec.id);
        assert_eq!(scores.rouge.unwrap().rouge1.f1, 1.0);
        total.add(&scores.fact_recall.unwrap());
    }
    assert_eq!(total.hits, total.total);
    assert!(total.total >= corpus.consultations.len(), "{total:?}");
}

#[test]
fn reference_run_on_rendered_audio_uses_the_renderers_timings() {
    // Two consultations of the shipped corpus, rendered by espeak-ng as the README says.
    let mut corpus = Corpus::load(&repository().join("eval/corpora/synthetic-da/manifest.toml")).unwrap();
    corpus.consultations.truncate(2);
    let audio = tempfile::tempdir().unwrap();
    for spec in &corpus.consultations {
        let script = fixtures::Consultation::load(spec.script.as_ref().unwrap()).unwrap();
        fixtures::render(&script, audio.path()).expect("espeak-ng renders the fixture (scripts/setup.sh installs it)");
    }
    let corpus = corpus.with_audio_dir(audio.path());
    let first = corpus.consultations[0].load().unwrap();
    let timings: Vec<fixtures::Timing> = serde_json::from_str(
        &std::fs::read_to_string(audio.path().join(format!("{}.timings.json", first.input.id))).unwrap(),
    )
    .unwrap();
    let reference = first.references.transcript.unwrap();
    for (segment, timing) in reference.segments.iter().zip(&timings) {
        assert_eq!((segment.start, segment.end, segment.track), (timing.start, timing.end, timing.channel));
    }

    let out = audio.path().join("run");
    let outcome = run(
        &corpus,
        &ReferencePipeline::from_corpus(&corpus),
        &RunOptions::new(&out),
        &AtomicBool::new(false),
        &|_| {},
    )
    .unwrap();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    let results = RunResults::load(&out).unwrap();
    assert_eq!(results.summary.wer, Some(0.0));
    for consultation in &results.consultations {
        // The renderer ends each WAV half a second after the last utterance.
        let last = consultation.speed.audio_seconds - 0.5;
        assert!(last > 10.0, "{}: {} s of audio", consultation.id, consultation.speed.audio_seconds);
    }
    assert!((results.consultations[0].speed.audio_seconds - 0.5 - reference.duration).abs() < 0.01);
}
