//! End-to-end runs of the harness in reference mode over a two-consultation corpus written to a
//! temporary directory: real files, real WAV headers, real threads, real resumption.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use eval::note::Ratio;
use eval::{
    AsrMode, ConsultationInput, Corpus, Draft, Pipeline, PipelineError, ReferencePipeline, RunOptions, RunResults,
    Section, Stages, Statement, TranscriptRun, compare, run,
};
use transcript::Transcript;

const FEVER: &str = r#"
id = "t1-feber"
title = "Feber"
topic = "infektion"
patient_age = 40
setting = "patient alene"
split = "test"
reference_note = """
Videokonsultation.
Kontaktårsag: Feber i 3 dage.
Anamnese: Feber op til 38,5. Ingen hoste.
Vurdering: Virusinfektion.
Plan: Paracetamol. Kontakt ved forværring.
"""

[[utterance]]
speaker = "doctor"
text = "Goddag, det er lægen."
label = "none"

[[utterance]]
speaker = "patient"
text = "Jeg har haft feber i tre dage."
label = "kontaktaarsag"

[[utterance]]
speaker = "doctor"
text = "Hvor høj har feberen været?"
label = "anamnese"

[[utterance]]
speaker = "patient"
text = "Otteogtredive komma fem i går aftes."
label = "anamnese"

[[utterance]]
speaker = "doctor"
text = "Har du hoste?"
label = "anamnese"

[[utterance]]
speaker = "patient"
text = "Nej, ingen hoste."
label = "anamnese"

[[utterance]]
speaker = "doctor"
text = "Det lyder som en virusinfektion."
label = "vurdering"

[[utterance]]
speaker = "doctor"
text = "Tag paracetamol og ring, hvis det ikke går over."
label = "plan"

[[fact]]
section = "kontaktaarsag"
words = ["feber", "3 dage"]

[[fact]]
section = "anamnese"
words = ["38,5"]

[[fact]]
section = "anamnese"
words = ["ingen hoste"]

[[fact]]
section = "vurdering"
words = ["virusinfektion"]

[[fact]]
section = "plan"
words = ["paracetamol", "kontakt ved forværring"]

[[fact]]
section = "objektivt"
words = ["rød i halsen"]
"#;

const BLOOD_PRESSURE: &str = r#"
id = "t2-blodtryk"
title = "Blodtryk"
topic = "blodtryk"
patient_age = 61
setting = "patient alene"
split = "test"
reference_note = """
Videokonsultation.
Kontaktårsag: Hjemmeblodtryk.
Objektivt: BT 145/90.
Plan: Ny måling om 2 uger.
Medicin: Øget til 5 mg.
"""

[[utterance]]
speaker = "doctor"
text = "Hej, kan du høre mig?"
label = "none"

[[utterance]]
speaker = "patient"
text = "Ja. Jeg har målt mit blodtryk hjemme."
label = "kontaktaarsag"

[[utterance]]
speaker = "patient"
text = "Det var hundrede og femogfyrre over halvfems."
label = "objektivt"

[[utterance]]
speaker = "doctor"
text = "Vi øger din medicin til fem milligram."
label = "medicin"

[[utterance]]
speaker = "doctor"
text = "Ny måling om to uger."
label = "plan"

[[fact]]
section = "objektivt"
words = ["145/90"]

[[fact]]
section = "medicin"
words = ["5 mg"]

[[fact]]
section = "plan"
words = ["2 uger"]

[[fact]]
section = "vurdering"
words = ["forhøjet blodtryk"]
"#;

/// A silent 16-bit, 16 kHz WAV with one channel per participant.
fn write_wav(path: &Path, channels: u16, seconds: f64) {
    let rate = 16_000u32;
    let block = channels * 2;
    let data = (seconds * rate as f64) as u32 * block as u32;
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&channels.to_le_bytes());
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * block as u32).to_le_bytes());
    bytes.extend_from_slice(&block.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data.to_le_bytes());
    bytes.resize(bytes.len() + data as usize, 0);
    std::fs::write(path, bytes).unwrap();
}

/// A corpus folder: scripts/, audio/ (2 s and 3 s) and manifest.toml listing both.
fn corpus_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scripts")).unwrap();
    std::fs::create_dir_all(dir.path().join("audio")).unwrap();
    std::fs::write(dir.path().join("scripts/t1-feber.toml"), FEVER).unwrap();
    std::fs::write(dir.path().join("scripts/t2-blodtryk.toml"), BLOOD_PRESSURE).unwrap();
    write_wav(&dir.path().join("audio/t1-feber.wav"), 3, 2.0);
    write_wav(&dir.path().join("audio/t2-blodtryk.wav"), 3, 3.0);
    write_manifest(dir.path(), "manifest.toml", true);
    dir
}

fn write_manifest(dir: &Path, name: &str, with_scripts: bool) -> PathBuf {
    let mut manifest = String::from("name = \"test\"\naudio_dir = \"audio\"\n");
    for id in ["t1-feber", "t2-blodtryk"] {
        manifest.push_str(&format!("\n[[consultation]]\nid = \"{id}\"\naudio = \"{id}.wav\"\n"));
        if with_scripts {
            manifest.push_str(&format!("script = \"scripts/{id}.toml\"\n"));
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, manifest).unwrap();
    path
}

fn no_progress(_: eval::Progress<'_>) {}

fn run_reference(corpus: &Corpus, options: &RunOptions) -> eval::RunOutcome {
    run(corpus, &ReferencePipeline::from_corpus(corpus), options, &AtomicBool::new(false), &no_progress).unwrap()
}

#[test]
fn reference_run_writes_every_output_and_scores_by_hand() {
    let dir = corpus_dir();
    let corpus = Corpus::load(&dir.path().join("manifest.toml")).unwrap();
    let out = dir.path().join("out");
    let mut options = RunOptions::new(&out);
    options.jobs = 2;
    options.streaming = true;
    let events = std::sync::Mutex::new(Vec::new());
    let outcome = run(&corpus, &ReferencePipeline::from_corpus(&corpus), &options, &AtomicBool::new(false), &|event| {
        events.lock().unwrap().push(format!("{event:?}"))
    })
    .unwrap();
    assert_eq!(outcome.evaluated.len(), 2);
    assert!(outcome.failed.is_empty() && outcome.pending.is_empty() && !outcome.interrupted);
    assert_eq!(events.lock().unwrap()[0], "Planned { total: 2, already_done: 0 }");
    assert_eq!(events.lock().unwrap().len(), 5);

    // Everything the harness wrote is inside --out, and --out holds every promised file.
    assert!(outcome.written.iter().all(|p| p.starts_with(&out)), "{:?}", outcome.written);
    let mut top: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    top.sort();
    assert_eq!(top, ["audio", "manifest.toml", "out", "scripts"]);
    for file in [
        "run.json",
        "results.json",
        "per_consultation.csv",
        "report.md",
        "report.html",
        "plots/wer_per_consultation.svg",
        "plots/fact_recall_by_section.svg",
        "plots/latency_distribution.svg",
        "consultations/t1-feber.json",
        "transcripts/t1-feber.json",
        "transcripts/t1-feber.offline.json",
        "alignments/t2-blodtryk.txt",
        "notes/t2-blodtryk.md",
        "notes/t2-blodtryk.json",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(out.join("notes/t2-blodtryk.md")).unwrap().permissions().mode() & 0o777, 0o600);

    let results = RunResults::load(&out).unwrap();
    assert!(results.header.complete);
    assert_eq!(results.header.corpus.consultations, 2);
    assert!(results.header.machine.cores >= 1);
    let s = &results.summary;
    // Identity ASR: no errors, and the streaming path agrees with offline.
    assert_eq!(s.wer, Some(0.0));
    assert_eq!(s.streaming_vs_offline_wer, Some(0.0));
    // t1: 4 of 6 facts (not "kontakt ved forværring", not "rød i halsen"); t2: 3 of 4 (not
    // "forhøjet blodtryk"). 7 of 10, all found ones in their own section.
    assert_eq!(s.fact_recall, Some(0.7));
    assert_eq!(s.section_placement, Some(1.0));
    assert_eq!(s.fact_recall_by_section[&Section::Objektivt], Ratio { hits: 1, total: 2 });
    assert_eq!(s.fact_recall_by_section[&Section::Anamnese], Ratio { hits: 2, total: 2 });
    // The label oracle quotes its evidence: 7 + 4 labelled utterances, all supported.
    assert_eq!((s.statements, s.unsupported_statements, s.statement_precision), (11, 0, Some(1.0)));
    let infection = &s.by_topic["infektion"];
    assert_eq!((infection.consultations, infection.fact_recall), (1, Some(4.0 / 6.0)));
    assert_eq!(s.by_topic["blodtryk"].fact_recall, Some(0.75));
    let t1 = &results.consultations[0];
    assert_eq!(t1.id, "t1-feber");
    assert_eq!(t1.speed.audio_seconds, 2.0);
    assert!(t1.speed.real_time_factor.is_some() && t1.speed.hangup_to_draft_seconds.is_some());
    assert!(t1.note.as_ref().unwrap().rouge.unwrap().rouge1.recall > 0.0);
    assert_eq!(results.consultations[1].speed.audio_seconds, 3.0);

    let csv = std::fs::read_to_string(out.join("per_consultation.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.lines().nth(1).unwrap().starts_with("t1-feber,infektion,ok,,0.0000,0.0000,"), "{csv}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for expected in [
        "## Reproducibility",
        "The harness wrote nothing outside it",
        "| Fact recall | 70.0 % |",
        "| Streaming vs. offline WER | 0.0 % |",
        "Streaming: real-time factor and hang-up to draft are those of the streaming path.",
        "plots/wer_per_consultation.svg",
    ] {
        assert!(report.contains(expected), "{expected} not in\n{report}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 3);
}

/// The reference pipeline, with a Ctrl-C after the first transcription.
struct InterruptedAfterFirst<'a> {
    inner: ReferencePipeline,
    cancel: &'a AtomicBool,
}

impl Pipeline for InterruptedAfterFirst<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn transcribe(&self, input: &ConsultationInput, mode: AsrMode) -> Result<TranscriptRun, PipelineError> {
        self.cancel.store(true, Ordering::SeqCst);
        self.inner.transcribe(input, mode)
    }

    fn draft(&self, input: &ConsultationInput, transcript: &Transcript) -> Result<Draft, PipelineError> {
        self.inner.draft(input, transcript)
    }
}

#[test]
fn an_interrupted_run_keeps_its_results_and_resumes() {
    let dir = corpus_dir();
    let corpus = Corpus::load(&dir.path().join("manifest.toml")).unwrap();
    let out = dir.path().join("out");
    let options = RunOptions::new(&out);
    let cancel = AtomicBool::new(false);
    let interrupted = InterruptedAfterFirst { inner: ReferencePipeline::from_corpus(&corpus), cancel: &cancel };
    let outcome = run(&corpus, &interrupted, &options, &cancel, &no_progress).unwrap();
    assert!(outcome.interrupted);
    assert_eq!((outcome.evaluated, outcome.pending), (vec!["t1-feber".to_string()], vec!["t2-blodtryk".to_string()]));
    let partial = RunResults::load(&out).unwrap();
    assert!(!partial.header.complete);
    assert_eq!(partial.consultations.len(), 1);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("interrupted: 1 consultation(s) not yet evaluated; run again with the same --out to resume")
    );

    // Other settings into the same directory would mix two runs: refused, with the way out.
    let mut other = RunOptions::new(&out);
    other.stages = "asr".parse::<Stages>().unwrap();
    let err = run(&corpus, &ReferencePipeline::from_corpus(&corpus), &other, &AtomicBool::new(false), &no_progress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds a different run (stages: asr,note then, asr now); give a new --out"), "{err}");

    let resumed = run_reference(&corpus, &options);
    assert_eq!(resumed.resumed, ["t1-feber"]);
    assert_eq!(resumed.evaluated, ["t2-blodtryk"]);
    let results = RunResults::load(&out).unwrap();
    assert!(results.header.complete && results.pending.is_empty());
    assert_eq!(results.header.started, partial.header.started);
    assert_eq!(results.summary.fact_recall, Some(0.7));
}

#[test]
fn bad_inputs_fail_their_consultation_and_the_rest_still_runs() {
    let dir = corpus_dir();
    std::fs::remove_file(dir.path().join("audio/t2-blodtryk.wav")).unwrap();
    std::fs::write(dir.path().join("note-latin1.txt"), b"Kontakt\xe5rsag: Feber.").unwrap();
    let manifest = std::fs::read_to_string(dir.path().join("manifest.toml")).unwrap()
        + "\n[[consultation]]\nid = \"t3-latin1\"\naudio = \"t1-feber.wav\"\nreference_note = \"note-latin1.txt\"\n";
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
    let corpus = Corpus::load(&dir.path().join("manifest.toml")).unwrap();
    assert_eq!(corpus.problems().len(), 2);

    // A directory that holds other files is not taken over as --out.
    let err = run(
        &corpus,
        &ReferencePipeline::from_corpus(&corpus),
        &RunOptions::new(dir.path().join("scripts")),
        &AtomicBool::new(false),
        &no_progress,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.ends_with("scripts already holds files and no run.json: give a new or empty directory as --out"),
        "{err}"
    );

    let out = dir.path().join("out");
    let outcome = run_reference(&corpus, &RunOptions::new(&out));
    assert_eq!(outcome.failed.len(), 2);
    let (id, message) = &outcome.failed[0];
    assert_eq!(id, "t2-blodtryk");
    assert!(message.contains("t2-blodtryk.wav for consultation t2-blodtryk does not exist"), "{message}");
    let (_, message) = &outcome.failed[1];
    assert!(
        message.contains("note-latin1.txt is not UTF-8 text (first bad byte at offset 7); save it as UTF-8"),
        "{message}"
    );

    let results = RunResults::load(&out).unwrap();
    assert_eq!(results.summary.evaluated, 1);
    assert_eq!(results.summary.failed, 2);
    assert_eq!(results.summary.fact_recall, Some(4.0 / 6.0));
    let csv = std::fs::read_to_string(out.join("per_consultation.csv")).unwrap();
    // The script with the topic was never read, and the message has a comma, so it is quoted.
    assert!(csv.contains("\nt2-blodtryk,,failed,\"audio file "), "{csv}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Failed consultations\n\n- t2-blodtryk: audio file"), "{report}");

    // Rendering the missing audio and running again evaluates only what failed.
    write_wav(&dir.path().join("audio/t2-blodtryk.wav"), 3, 3.0);
    let again = run_reference(&corpus, &RunOptions::new(&out));
    assert_eq!(again.resumed, ["t1-feber"]);
    assert_eq!(again.evaluated, ["t2-blodtryk", "t3-latin1"]);
    assert_eq!(again.failed.len(), 1);
}

#[test]
fn a_corpus_without_references_is_a_speed_only_run() {
    let dir = corpus_dir();
    let with_references = Corpus::load(&dir.path().join("manifest.toml")).unwrap();
    let without = Corpus::load(&write_manifest(dir.path(), "audio-only.toml", false)).unwrap();
    // The transcripts and drafts come from a pipeline that has them; the corpus has no references.
    let pipeline = ReferencePipeline::from_corpus(&with_references);
    let out = dir.path().join("out");
    let outcome = run(&without, &pipeline, &RunOptions::new(&out), &AtomicBool::new(false), &no_progress).unwrap();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    let results = RunResults::load(&out).unwrap();
    let s = &results.summary;
    assert_eq!((s.wer, s.fact_recall), (None, None));
    assert!(s.rouge1_f1.is_none() && s.real_time_factor.is_some() && s.hangup_to_draft_seconds.is_some());
    // Statement support needs only the transcript and the draft, so it is still measured.
    assert_eq!(s.statement_precision, Some(1.0));
    assert!(!results.consultations[0].references.transcript);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("WER per consultation: no data in this run."), "{report}");

    // Drafting alone needs a reference transcript to draft from.
    let mut note_only = RunOptions::new(dir.path().join("out-note"));
    note_only.stages = "note".parse().unwrap();
    let outcome = run(&without, &pipeline, &note_only, &AtomicBool::new(false), &no_progress).unwrap();
    assert!(outcome.failed[0].1.contains("--stages note drafts from the reference transcript"), "{:?}", outcome.failed);
}

#[test]
fn compare_shows_what_changed_between_runs() {
    let dir = corpus_dir();
    let corpus = Corpus::load(&dir.path().join("manifest.toml")).unwrap();
    run_reference(&corpus, &RunOptions::new(dir.path().join("a")));
    let mut asr_only = RunOptions::new(dir.path().join("b"));
    asr_only.stages = Stages { asr: true, note: false };
    run_reference(&corpus, &asr_only);
    let comparison = compare(&dir.path().join("a"), &dir.path().join("b")).unwrap();
    let text = comparison.to_string();
    assert!(text.contains("warning: the runs ran different stages"), "{text}");
    assert!(text.contains("Fact recall"), "{text}");
    assert!(text.contains("t1-feber: ") && text.contains("fact recall 66.7 % → –"), "{text}");
    // Both runs transcribed identically; only A drafted, so only WER is paired.
    assert!(
        text.contains("WER change over the 2 consultations in both runs: +0.0 pp, 95 % CI [+0.0 pp, +0.0 pp]"),
        "{text}"
    );
    assert_eq!(comparison.paired.len(), 1);
    let fact_recall = comparison.summary.iter().find(|c| c.metric == "Fact recall").unwrap();
    assert_eq!((fact_recall.a, fact_recall.b), (Some(0.7), None));
    let err = compare(&dir.path().join("a"), &dir.path().join("missing")).unwrap_err().to_string();
    assert!(err.contains("cannot read") && err.contains("missing/results.json"), "{err}");
}

/// The reference pipeline with two drafter bugs: it invents a statement in one consultation
/// and panics on the other.
struct BuggyDrafter(ReferencePipeline);

impl Pipeline for BuggyDrafter {
    fn describe(&self) -> String {
        "reference with a buggy drafter".into()
    }

    fn transcribe(&self, input: &ConsultationInput, mode: AsrMode) -> Result<TranscriptRun, PipelineError> {
        self.0.transcribe(input, mode)
    }

    fn draft(&self, input: &ConsultationInput, transcript: &Transcript) -> Result<Draft, PipelineError> {
        assert_ne!(input.id, "t2-blodtryk", "drafter bug");
        let mut draft = self.0.draft(input, transcript)?;
        draft.sections[1].statements.push(Statement { text: "Ingen penicillinallergi.".into(), evidence: vec![3] });
        Ok(draft)
    }
}

#[test]
fn a_buggy_drafter_is_measured_and_its_panic_fails_only_its_consultation() {
    let dir = corpus_dir();
    let corpus = Corpus::load(&dir.path().join("manifest.toml")).unwrap();
    let pipeline = BuggyDrafter(ReferencePipeline::from_corpus(&corpus));
    let out = dir.path().join("out");
    let outcome = run(&corpus, &pipeline, &RunOptions::new(&out), &AtomicBool::new(false), &no_progress).unwrap();
    assert_eq!(outcome.evaluated.len(), 2);
    assert_eq!(outcome.failed.len(), 1);
    assert!(
        outcome.failed[0].1.starts_with("the pipeline panicked: assertion `left != right` failed: drafter bug"),
        "{:?}",
        outcome.failed
    );
    // What was measured before the panic is kept: the transcript was scored.
    let results = RunResults::load(&out).unwrap();
    assert_eq!(results.consultations[1].transcription.as_ref().unwrap().overall.wer(), Some(0.0));
    // The invented statement is caught by the harness's own support rule and listed.
    let note = results.consultations[0].note.as_ref().unwrap();
    assert_eq!(note.statement_support, Ratio { hits: 7, total: 8 });
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let listed = "- t1-feber — Anamnese: \"Ingen penicillinallergi.\" (states a negation the evidence does not)";
    assert!(report.contains(listed), "{report}");
}
