//! `autonotar keys …`: the key-encryption key that seals every consultation's data keys.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Paths;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create the key file (mode 0600; never overwrites one).
    Init,
    /// Re-seal every data key under a new KEK, then replace the key file (stop `serve` first).
    Rotate,
}

pub fn run(command: KeysCommand, paths: &Paths) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Init => println!("{}", vault::keys::init(&paths.key_file)?),
        KeysCommand::Rotate => println!("{}", vault::keys::rotate_key_file(&paths.key_file, &paths.data_dir)?),
    }
    Ok(ExitCode::SUCCESS)
}
