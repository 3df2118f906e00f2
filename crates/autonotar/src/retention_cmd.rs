//! `autonotar retention …`: when each stored artefact is deleted, and deleting what is due.

use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Subcommand};

use crate::config::{Config, Paths};

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// List each consultation's artefacts and when each will be deleted.
    Status(Clock),
    /// Crypto-shred everything that is due (for cron; `serve` also sweeps every [server] sweep_interval).
    Sweep(Clock),
}

#[derive(Args)]
pub struct Clock {
    /// Act as if it were this time (RFC 3339, UTC), e.g. 2026-12-01T08:00:00Z.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

impl Clock {
    fn now(&self) -> anyhow::Result<SystemTime> {
        Ok(match &self.now {
            Some(text) => vault::retention::parse_time(text)?,
            None => SystemTime::now(),
        })
    }
}

pub fn run(command: RetentionCommand, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    let vault = paths.open_vault()?;
    match command {
        RetentionCommand::Status(clock) => {
            println!("{}", vault::retention::status(&vault, &config.retention, clock.now()?)?)
        }
        RetentionCommand::Sweep(clock) => {
            // The log opens first: a sweep that cannot record its deletions deletes nothing.
            let audit = std::sync::Arc::new(std::sync::Mutex::new(paths.open_audit(config)?));
            let report = storage::retention::sweep(&vault, &audit, &config.retention, clock.now()?)?;
            println!("{report}");
            if !report.problems.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
