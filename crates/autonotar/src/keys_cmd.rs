//! `autonotar keys …`: the key-encryption key that seals every consultation's data keys.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::{Config, Paths};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create the key file (mode 0600; never overwrites one).
    Init,
    /// Re-seal every data key under a new KEK, then replace the key file (stop `serve` first).
    Rotate,
}

pub fn run(command: KeysCommand, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Init => println!("{}", vault::keys::init(&paths.key_file)?),
        KeysCommand::Rotate => {
            // Opened first: a rotation the log cannot record is not started.
            let mut log = paths.open_audit(config)?;
            let rotation = vault::rotation::rotate_key_file(&paths.key_file, &paths.data_dir)?;
            let key = audit::Id::new(format!("kek-{}", secrets::hex(&rotation.new_fingerprint)))?;
            log.append(audit::Event::KeyRotated { key, rewrapped: rotation.resealed as u64 })?;
            println!("{rotation}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
