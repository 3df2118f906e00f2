//! `autonotar retention …`: when each stored artefact is deleted, and deleting what is due.

use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Subcommand};
use vault::retention::{Deleted, SweepReport};

use crate::config::{Config, Paths};

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// List each consultation's artefacts and when each will be deleted.
    Status(Clock),
    /// Crypto-shred everything that is due (for cron; `serve` also sweeps in the background).
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
            let report = vault::retention::sweep(&vault, &config.retention, clock.now()?)?;
            // Deletions are recorded even when printing fails: the log is the DPO's evidence.
            let mut log = paths.open_audit(config)?;
            for event in sweep_events(&report)? {
                log.append(event)?;
            }
            println!("{report}");
            if !report.problems.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The audit record of a sweep: one event per deletion, then the sweep itself. Artefact ids are
/// `<consultation>.<kind>`, as the producers of those artefacts name them.
fn sweep_events(report: &SweepReport) -> anyhow::Result<Vec<audit::Event>> {
    let mut events = Vec::new();
    let (mut deleted, mut shredded) = (0, 0);
    for deletion in &report.deletions {
        let consultation = audit::Id::new(deletion.consultation.as_str())?;
        let policy = audit::Id::new(format!("{}.{}", deletion.class, deletion.rule))?;
        events.push(match &deletion.deleted {
            Deleted::Artefact(kind) => {
                deleted += 1;
                audit::Event::ArtefactDeleted {
                    artefact: audit::Id::new(format!("{consultation}.{kind}"))?,
                    consultation,
                    policy,
                }
            }
            Deleted::Record => {
                shredded += 1;
                audit::Event::KeyShredded {
                    key: audit::Id::new(format!("{consultation}.keyring"))?,
                    artefacts: Vec::new(),
                    consultation,
                    policy,
                }
            }
        });
    }
    let examined = report.deletions.len() as u64 + report.problems.len() as u64;
    events.push(audit::Event::RetentionSweepRan { examined, deleted, shredded });
    Ok(events)
}
