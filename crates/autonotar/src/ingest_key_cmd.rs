//! `autonotar ingest-key create|list|revoke`: the keys server-to-server clients (the video
//! platform, `autonotar replay`) connect to `/v1/ingest` with. Each change is audited first.

use std::process::ExitCode;

use clap::Subcommand;
use server::IngestKeys;

use crate::config::{Config, Paths};

#[derive(Subcommand)]
pub enum IngestKeyCommand {
    /// Make a key and print it once (the last line of the output); only its hash is kept.
    Create {
        /// A name for who uses it, e.g. the video platform's (letters, digits, - _ . :).
        name: String,
    },
    /// The keys' names and when each was made (never the keys).
    List,
    /// Stop a key working, at once, also in a running `serve`.
    Revoke { name: String },
}

pub fn run(command: IngestKeyCommand, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&paths.data_dir)?;
    let keys = IngestKeys::in_data_dir(&paths.data_dir);
    match command {
        IngestKeyCommand::Create { name } => {
            let name = ids::Id::new(name)?;
            if keys.list()?.iter().any(|entry| entry.name == name) {
                anyhow::bail!("an ingest key named {name} exists; revoke it first or choose another name");
            }
            paths.open_audit(config)?.append(audit::Event::IngestKeyCreated { key: name.clone() })?;
            let key = keys.create(&name)?;
            eprintln!("ingest key {name} created; give it to the client as `Authorization: Bearer KEY`:");
            println!("{}", key.as_str());
        }
        IngestKeyCommand::List => {
            for entry in keys.list()? {
                println!("{}\tcreated {}", entry.name, humantime::format_rfc3339_seconds(entry.created));
            }
        }
        IngestKeyCommand::Revoke { name } => {
            let name = ids::Id::new(name)?;
            if !keys.list()?.iter().any(|entry| entry.name == name) {
                anyhow::bail!("no ingest key is named {name}; `autonotar ingest-key list` shows them");
            }
            paths.open_audit(config)?.append(audit::Event::IngestKeyRevoked { key: name.clone() })?;
            keys.revoke(&name)?;
            eprintln!("ingest key {name} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
