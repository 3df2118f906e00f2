//! `autonotar eval`: the research unit's harness, running the production pipeline over a corpus.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use crate::config::{Config, Paths};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    compare: Option<EvalCommand>,
    /// The corpus manifest (format: eval/README.md).
    #[arg(long, value_name = "MANIFEST")]
    corpus: Option<PathBuf>,
    /// Where results and reports go; rerunning into the same directory resumes.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Stages to run: asr, note, or both (note alone drafts from the reference transcript).
    #[arg(long, default_value = "asr,note")]
    stages: String,
    /// Also transcribe through the streaming path (the live service, in this process) and compare it with offline.
    #[arg(long)]
    streaming: bool,
    /// Replay pace for --streaming: 1 is real time, as in production; faster changes when
    /// interim text is committed; 0 is as fast as the service takes the audio.
    #[arg(long, default_value_t = 1.0, requires = "streaming")]
    speed: f64,
    /// Consultations evaluated at once (offline decoding itself is one at a time).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Look for the corpus's audio in this directory instead.
    #[arg(long, value_name = "DIR")]
    audio_dir: Option<PathBuf>,
    /// Pseudonymous id of the researcher, for the audit log.
    #[arg(long, default_value = "research-unit")]
    researcher: String,
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Print what changed between two runs, per consultation.
    Compare { a: PathBuf, b: PathBuf },
}

pub fn run(args: EvalArgs, config_file: Option<&Path>, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    if let Some(EvalCommand::Compare { a, b }) = &args.compare {
        print!("{}", eval::compare(a, b)?);
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(corpus), Some(out)) = (&args.corpus, &args.out) else { bail!("--corpus and --out are required") };
    let mut corpus = eval::Corpus::load(corpus)?;
    if let Some(dir) = &args.audio_dir {
        corpus = corpus.with_audio_dir(dir);
    }
    let mut options = eval::RunOptions::new(out);
    options.stages = args.stages.parse().map_err(anyhow::Error::msg)?;
    if args.streaming && !options.stages.asr {
        bail!("--streaming compares two ways of transcribing: run it with the asr stage (--stages asr,note)");
    }
    options.streaming = args.streaming;
    options.jobs = args.jobs.max(1);
    if let Some(path) = config_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        options.config = Some(eval::ConfigRecord::new(Some(path.to_path_buf()), text));
    }
    let whisper = paths.whisper_model(config);
    let classifier = paths.models_dir.join(note::MODEL_FILE);
    // The note stage alone drafts from the reference transcripts: no Whisper, no VAD, no audio.
    let transcribes = options.stages.asr;
    options.model_files = if transcribes {
        vec![whisper.clone(), classifier.clone(), paths.models_dir.join(vad::MODEL_FILE)]
    } else {
        vec![classifier.clone()]
    };
    // The dictionary decides which statements reach the note: part of what a run depends on.
    options.model_files.extend(["aff", "dic"].map(|extension| config.note.dictionary.with_extension(extension)));
    let mut description = if transcribes {
        format!("whisper {} + {} ({})", whisper.display(), note::MODEL_FILE, config.asr.language)
    } else {
        format!("{} from the reference transcripts", note::MODEL_FILE)
    };
    if args.streaming {
        if !(args.speed.is_finite() && args.speed >= 0.0) {
            bail!(
                "--speed {} is not a replay pace: use 1 for real time, a larger number for faster, 0 for as fast as possible",
                args.speed
            );
        }
        // The pace changes the streaming results, so it is part of what the header records
        // and what a resumed run must match.
        description.push_str(&format!("; streaming through the live service, replayed at {}x real time", args.speed));
    }
    let drafter = config.drafter(paths);
    if let Some(problem) = drafter.problem() {
        bail!("{problem}");
    }
    let recognizer = transcribes.then(|| asr::Recognizer::load(&whisper, config.asr.options())).transpose()?;
    let mut pipeline = production::Production::new(recognizer, drafter, paths.models_dir.clone(), description);
    if args.streaming {
        let settings = config.server.settings(&paths.models_dir, &config.asr.language);
        server::check_models(&settings)?;
        // The service's own decoder: it owns its recogniser, as in `autonotar serve`.
        let recognizer = asr::Recognizer::load(&whisper, config.asr.options())?;
        let live =
            production::LiveService::start(settings, recognizer, args.speed).map_err(anyhow::Error::from_boxed)?;
        pipeline = pipeline.with_streaming(live);
    }
    let bar = indicatif::ProgressBar::new(0);
    let outcome = eval::run(&corpus, &pipeline, &options, &AtomicBool::new(false), &|event| match event {
        eval::Progress::Planned { total, already_done } => {
            bar.set_length(total as u64);
            bar.set_position(already_done as u64);
        }
        eval::Progress::Finished { .. } => bar.inc(1),
        _ => {}
    })?;
    bar.finish_and_clear();
    // Evaluation reads consultation data for research: the DPO sees each run.
    paths.open_audit(config)?.append(audit::Event::ResearchExportMade {
        researcher: audit::Id::new(args.researcher.as_str())?,
        export: audit::Id::new(format!("eval-{}", &outcome.corpus.manifest_sha256[..16]))?,
        consultations: outcome.evaluated.len() as u64,
        delete_by: None,
    })?;
    println!(
        "{} evaluated, {} resumed, {} failed; reports in {}",
        outcome.evaluated.len(),
        outcome.resumed.len(),
        outcome.failed.len(),
        outcome.out_dir.display()
    );
    for (id, reason) in &outcome.failed {
        eprintln!("failed: {id}: {reason}");
    }
    Ok(if outcome.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
