//! `autonotar transcribe <file.wav>`: the offline path from a recording to a transcript.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use transcript::{Role, Transcript};

use crate::config::{Config, Paths};

#[derive(Args)]
pub struct TranscribeArgs {
    /// WAV file: 8/16/24/32-bit PCM or 32-bit float, any rate, one channel per participant.
    pub input: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Txt)]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Role of each channel in order (default: doctor,patient,other,…; a mono file is one mixed track).
    #[arg(long, value_delimiter = ',', value_name = "ROLES")]
    pub roles: Option<Vec<Role>>,
    /// Whisper GGML model to use instead of the configured one.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Decoding threads (default: [asr] threads).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Language to force, ISO 639-1 (default: [asr] language, "da").
    #[arg(long)]
    pub language: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Json,
    Vtt,
    Txt,
}

pub fn run(args: TranscribeArgs, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    let mut options = config.asr.options();
    if let Some(threads) = args.threads {
        options.threads = threads;
    }
    if let Some(language) = args.language {
        options.language = language;
    }
    let model = args.model.unwrap_or_else(|| paths.whisper_model(config));
    let transcript = transcribe_wav(&args.input, args.roles, &model, options, paths)?;
    let text = match args.format {
        Format::Json => transcript.to_json() + "\n",
        Format::Vtt => transcript.to_vtt(),
        Format::Txt => transcript.to_txt(),
    };
    match args.out {
        Some(path) => std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A WAV recording, one channel per participant, through the offline path
/// (`asr::transcribe_recorded`), with a progress bar on a terminal.
pub fn transcribe_wav(
    input: &Path,
    roles: Option<Vec<Role>>,
    model: &Path,
    options: asr::Options,
    paths: &Paths,
) -> anyhow::Result<Transcript> {
    let recording = audio::read_wav(input)?;
    let roles = roles_for(roles, recording.channels.len())?;
    let tracks = asr::Recorded::channels(recording, &roles);
    let recognizer = asr::Recognizer::load(model, options)?;
    let bar = progress_bar();
    let transcript = asr::transcribe_recorded(&tracks, &paths.models_dir, &recognizer, &mut |done, total| {
        bar.set_length(total.ceil() as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    Ok(transcript)
}

/// The role of each channel: `--roles` must name every channel exactly once in order.
fn roles_for(given: Option<Vec<Role>>, channels: usize) -> anyhow::Result<Vec<Role>> {
    match given {
        Some(roles) if roles.len() != channels => {
            bail!(
                "--roles names {} roles but the recording has {channels} channel(s): give one role per channel",
                roles.len()
            )
        }
        Some(roles) => Ok(roles),
        None if channels == 1 => Ok(vec![Role::Other]),
        None => Ok((0..channels).map(Role::for_channel).collect()),
    }
}

/// Seconds of audio done, on a terminal only: pipes and CI logs get no control codes.
fn progress_bar() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("transskriberer {bar:40} {pos}/{len} s lyd ({eta} tilbage)")
            .expect("a valid template"),
    );
    bar
}
