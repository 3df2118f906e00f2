//! Running a corpus through a pipeline: parallel, resumable, and writing nothing outside the
//! output directory.
//!
//! Each finished consultation leaves `consultations/<id>.json` in the output directory, written
//! last and atomically, so its presence means the consultation is done. Run again with the same
//! output directory and settings and those consultations are skipped; failed ones are retried.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use transcript::Transcript;

use crate::corpus::{Consultation, ConsultationSpec, Corpus, wav_duration};
use crate::note::score_note;
use crate::out_dir::{OutDir, RunError};
use crate::pipeline::{AsrMode, Pipeline, PipelineError};
use crate::provenance::{ConfigRecord, FileDigest, Machine, git_revision, utc_now};
use crate::record::{ConsultationResult, CorpusRecord, ReferencesPresent, RunHeader, Stages, StreamingComparison};
use crate::report;
use crate::results::{RunResults, summarise_run};
use crate::speed::{PeakMemory, real_time_factor, transcription_after_hangup};
use crate::transcription::score_transcript;

/// Everything about a run that the caller decides.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out_dir: PathBuf,
    pub stages: Stages,
    /// Transcribe with the streaming path too and compare it with offline transcription; the
    /// draft is then made from the streaming transcript, as in a live consultation.
    pub streaming: bool,
    pub jobs: usize,
    /// Recorded in the header; the pipeline's own randomness should be seeded with it.
    pub seed: u64,
    /// The configuration the pipeline runs with (leave secrets out: it is copied into reports).
    pub config: Option<ConfigRecord>,
    /// Model and runtime files to identify by SHA-256 in the header.
    pub model_files: Vec<PathBuf>,
}

impl RunOptions {
    pub fn new(out_dir: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            out_dir: out_dir.into(),
            stages: Stages::default(),
            streaming: false,
            jobs: 1,
            seed: 0,
            config: None,
            model_files: Vec::new(),
        }
    }
}

/// Progress, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// Before the first consultation: how many there are and how many an earlier run finished.
    Planned {
        total: usize,
        already_done: usize,
    },
    Started {
        id: &'a str,
    },
    Finished {
        id: &'a str,
        error: Option<&'a str>,
    },
}

/// What a run did, for the caller's audit log and exit status.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub out_dir: PathBuf,
    pub corpus: CorpusRecord,
    /// Consultations evaluated by this invocation.
    pub evaluated: Vec<String>,
    /// Consultations an earlier, interrupted invocation had finished.
    pub resumed: Vec<String>,
    /// Consultations that failed, with the reason.
    pub failed: Vec<(String, String)>,
    /// Consultations not reached because the run was interrupted.
    pub pending: Vec<String>,
    pub interrupted: bool,
    /// Every file the harness wrote or replaced, all inside `out_dir`.
    pub written: Vec<PathBuf>,
    pub results: RunResults,
}

/// Runs `corpus` through `pipeline` into `options.out_dir`, resuming an earlier run there.
/// Setting `cancel` stops the run after the consultations in progress; what finished is kept
/// and reported, and a later run resumes from it.
pub fn run(
    corpus: &Corpus,
    pipeline: &dyn Pipeline,
    options: &RunOptions,
    cancel: &AtomicBool,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<RunOutcome, RunError> {
    let header_path = options.out_dir.join("run.json");
    let occupied = std::fs::read_dir(&options.out_dir).is_ok_and(|mut entries| entries.next().is_some());
    if occupied && !header_path.exists() {
        return Err(RunError::NotARunDir { out: options.out_dir.clone() });
    }
    let out = OutDir::new(&options.out_dir)?;
    let mut header = new_header(corpus, pipeline, options)?;
    if header_path.exists() {
        let bad = |reason: String| RunError::BadRunDir { path: header_path.clone(), reason };
        let text = std::fs::read_to_string(&header_path).map_err(|e| bad(e.to_string()))?;
        let earlier: RunHeader = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if let Some((what, before, now)) = earlier.differs_from(&header) {
            return Err(RunError::DifferentRun { out: options.out_dir.clone(), what, before, now });
        }
        header.started = earlier.started;
    }
    out.write_json("run.json", &header)?;

    let mut results: Vec<Option<ConsultationResult>> = vec![None; corpus.consultations.len()];
    let mut resumed = Vec::new();
    for (slot, spec) in results.iter_mut().zip(&corpus.consultations) {
        if let Some(done) = finished_result(&out, &spec.id) {
            resumed.push(spec.id.clone());
            *slot = Some(done);
        }
    }
    let todo: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_none()).collect();
    progress(Progress::Planned { total: corpus.consultations.len(), already_done: resumed.len() });

    let next = AtomicUsize::new(0);
    let fresh: Mutex<Vec<(usize, ConsultationResult)>> = Mutex::new(Vec::new());
    let first_write_error: Mutex<Option<RunError>> = Mutex::new(None);
    let worker = || {
        while !cancel.load(Ordering::SeqCst) {
            let Some(&index) = todo.get(next.fetch_add(1, Ordering::SeqCst)) else {
                break;
            };
            let spec = &corpus.consultations[index];
            progress(Progress::Started { id: &spec.id });
            let mut result = evaluate_guarded(spec, pipeline, options, &out);
            if let Err(error) = out.write_json(&format!("consultations/{}.json", spec.id), &result) {
                result.error.get_or_insert_with(|| error.to_string());
                if let Ok(mut first) = first_write_error.lock() {
                    first.get_or_insert(error);
                }
            }
            progress(Progress::Finished { id: &spec.id, error: result.error.as_deref() });
            if let Ok(mut fresh) = fresh.lock() {
                fresh.push((index, result));
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, todo.len().max(1)) {
            scope.spawn(worker);
        }
    });
    if let Some(error) = first_write_error.into_inner().ok().flatten() {
        return Err(error);
    }

    let mut evaluated = Vec::new();
    for (index, result) in fresh.into_inner().unwrap_or_default() {
        evaluated.push(result.id.clone());
        results[index] = Some(result);
    }
    let pending: Vec<String> = corpus
        .consultations
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_none())
        .map(|(spec, _)| spec.id.clone())
        .collect();
    let interrupted = !pending.is_empty();
    let consultations: Vec<ConsultationResult> = results.into_iter().flatten().collect();
    let failed = consultations.iter().filter_map(|r| r.error.clone().map(|e| (r.id.clone(), e))).collect();

    header.complete = !interrupted;
    header.finished = Some(utc_now());
    out.write_json("run.json", &header)?;
    let run_results =
        RunResults { summary: summarise_run(&consultations), header, pending: pending.clone(), consultations };
    report::write_all(&out, &run_results)?;

    Ok(RunOutcome {
        out_dir: options.out_dir.clone(),
        corpus: run_results.header.corpus.clone(),
        evaluated,
        resumed,
        failed,
        pending,
        interrupted,
        written: out.into_written(),
        results: run_results,
    })
}

fn new_header(corpus: &Corpus, pipeline: &dyn Pipeline, options: &RunOptions) -> Result<RunHeader, RunError> {
    let models = options
        .model_files
        .iter()
        .map(|path| FileDigest::of(path).map_err(|source| RunError::Model { path: path.clone(), source }))
        .collect::<Result<_, _>>()?;
    Ok(RunHeader {
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        started: utc_now(),
        finished: None,
        complete: false,
        git_revision: std::env::current_dir().ok().and_then(|dir| git_revision(&dir)),
        pipeline: pipeline.describe(),
        corpus: CorpusRecord {
            name: corpus.name.clone(),
            description: corpus.description.clone(),
            manifest: corpus.manifest_path.clone(),
            manifest_sha256: corpus.manifest_sha256.clone(),
            consultations: corpus.consultations.len(),
        },
        stages: options.stages,
        streaming: options.streaming,
        jobs: options.jobs,
        seed: options.seed,
        config: options.config.clone(),
        models,
        machine: Machine::current(),
    })
}

/// A result an earlier run finished without error; anything else is evaluated again.
fn finished_result(out: &OutDir, id: &str) -> Option<ConsultationResult> {
    let text = std::fs::read_to_string(out.path(&format!("consultations/{id}.json"))).ok()?;
    let result: ConsultationResult = serde_json::from_str(&text).ok()?;
    (result.id == id && result.error.is_none()).then_some(result)
}

/// A panicking pipeline fails its consultation, not the run.
fn evaluate_guarded(
    spec: &ConsultationSpec,
    pipeline: &dyn Pipeline,
    options: &RunOptions,
    out: &OutDir,
) -> ConsultationResult {
    let mut result = ConsultationResult::new(spec);
    let outcome = catch_unwind(AssertUnwindSafe(|| evaluate(spec, pipeline, options, out, &mut result)));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(message)) => result.error = Some(message),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            result.error = Some(format!("the pipeline panicked: {reason}"));
        }
    }
    result
}

fn timed<T>(call: impl FnOnce() -> Result<T, PipelineError>) -> Result<(T, f64), PipelineError> {
    let start = Instant::now();
    let value = call()?;
    Ok((value, start.elapsed().as_secs_f64()))
}

fn evaluate(
    spec: &ConsultationSpec,
    pipeline: &dyn Pipeline,
    options: &RunOptions,
    out: &OutDir,
    result: &mut ConsultationResult,
) -> Result<(), String> {
    // Drafting from the reference transcript needs no audio: a researcher comparing drafters
    // should not have to render it first.
    let loaded = if options.stages.asr { spec.load() } else { spec.load_references() };
    let Consultation { input, references } = loaded.map_err(|e| e.to_string())?;
    result.topic = input.metadata.topic.clone();
    result.references = ReferencesPresent {
        transcript: references.transcript.is_some(),
        note: references.note.is_some(),
        facts: references.facts.is_some(),
    };
    let id = &spec.id;
    let written = |e: RunError| e.to_string();
    let audio_seconds =
        input.metadata.duration.or_else(|| input.audio.files().iter().filter_map(|f| wav_duration(f)).reduce(f64::max));
    result.speed.audio_seconds = audio_seconds.unwrap_or(0.0);
    // With other consultations running, a reset would cut into their peaks: the shared,
    // never-reset peak is then reported, an upper bound.
    let memory_is_per_consultation = options.jobs <= 1 && PeakMemory::reset();

    let mut after_hangup = None;
    let transcript: Transcript = if options.stages.asr {
        let mode = if options.streaming { AsrMode::Streaming } else { AsrMode::Offline };
        let (run, seconds) =
            timed(|| pipeline.transcribe(&input, mode)).map_err(|e| format!("transcription failed: {e}"))?;
        let transcript = run.transcript;
        if result.speed.audio_seconds <= 0.0 {
            result.speed.audio_seconds = transcript.duration;
        }
        result.speed.transcribe_seconds = seconds;
        result.speed.real_time_factor = real_time_factor(seconds, result.speed.audio_seconds);
        after_hangup = Some(transcription_after_hangup(seconds, run.after_hangup_seconds));
        out.write(&format!("transcripts/{id}.json"), transcript.to_json().as_bytes()).map_err(written)?;
        if let Some(reference) = &references.transcript {
            let (scores, alignment) = score_transcript(reference, &transcript);
            let counts = alignment.counts;
            let summary = format!(
                "# {id}: S={} D={} I={} N={}\n\n",
                counts.substitutions, counts.deletions, counts.insertions, counts.reference_len
            );
            out.write(&format!("alignments/{id}.txt"), (summary + &alignment.to_text(100)).as_bytes())
                .map_err(written)?;
            result.transcription = Some(scores);
        }
        if options.streaming {
            let (offline, offline_seconds) = timed(|| pipeline.transcribe(&input, AsrMode::Offline))
                .map_err(|e| format!("offline transcription failed: {e}"))?;
            out.write(&format!("transcripts/{id}.offline.json"), offline.transcript.to_json().as_bytes())
                .map_err(written)?;
            let offline_scores = references.transcript.as_ref().map(|r| score_transcript(r, &offline.transcript).0);
            let wer_difference = match (&result.transcription, &offline_scores) {
                (Some(streaming), Some(offline)) => {
                    streaming.overall.wer().zip(offline.overall.wer()).map(|(s, o)| s - o)
                }
                _ => None,
            };
            result.streaming = Some(StreamingComparison {
                offline: offline_scores,
                offline_real_time_factor: real_time_factor(offline_seconds, result.speed.audio_seconds),
                streaming_vs_offline: score_transcript(&offline.transcript, &transcript).0.overall,
                wer_difference,
            });
        }
        transcript
    } else {
        references.transcript.clone().ok_or_else(|| {
            format!("--stages note drafts from the reference transcript, and consultation {id} has none")
        })?
    };

    if options.stages.note {
        let (draft, seconds) =
            timed(|| pipeline.draft(&input, &transcript)).map_err(|e| format!("drafting failed: {e}"))?;
        result.speed.draft_seconds = Some(seconds);
        result.speed.hangup_to_draft_seconds = after_hangup.map(|transcribing| transcribing + seconds);
        out.write(&format!("notes/{id}.md"), draft.rendered.as_bytes()).map_err(written)?;
        out.write_json(&format!("notes/{id}.json"), &draft).map_err(written)?;
        result.note = Some(score_note(&draft, &transcript, references.facts.as_deref(), references.note.as_deref()));
    }
    result.speed.peak_memory_bytes = PeakMemory::read();
    result.speed.peak_memory_is_per_consultation = memory_is_per_consultation;
    Ok(())
}
