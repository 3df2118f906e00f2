//! `autonotar draft <file.wav | transcript.json | transcript.txt>`: the whole offline pipeline.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use transcript::Role;

use crate::config::{Config, Paths};
use crate::transcribe_cmd::transcribe_wav;

#[derive(Args)]
pub struct DraftArgs {
    /// A WAV recording (transcribed first), a transcript from `transcribe --format json`, or a
    /// typed transcript (`.txt`, one `Læge: …` / `Patient: …` line per utterance).
    pub input: PathBuf,
    /// `text` is ready to paste into the practice system; `json` has every statement's evidence.
    #[arg(long, value_enum, default_value_t = DraftFormat::Text)]
    pub format: DraftFormat,
    /// For a WAV: the role of each channel, as for `transcribe`.
    #[arg(long, value_delimiter = ',', value_name = "ROLES")]
    pub roles: Option<Vec<Role>>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DraftFormat {
    Text,
    Json,
}

pub fn run(args: DraftArgs, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    let is_wav = args.input.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    let transcript = if is_wav {
        transcribe_wav(&args.input, args.roles, &paths.whisper_model(config), config.asr.options(), paths)?
    } else {
        note::load_transcript(&args.input)?
    };
    let draft = config.drafter(paths).draft(&transcript).map_err(anyhow::Error::msg)?;
    let text = match args.format {
        DraftFormat::Text => draft.to_text(),
        DraftFormat::Json => draft.to_json() + "\n",
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
