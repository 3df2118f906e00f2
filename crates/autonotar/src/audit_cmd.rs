//! `autonotar audit …`: the DPO's tools over the tamper-evident data-flow log.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::{Config, Paths};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain; prints `OK: N records, head <hash>` or the first bad record.
    Verify {
        /// Report records from this date (YYYY-MM-DD or RFC 3339 UTC); the chain is still checked whole.
        #[arg(long)]
        from: Option<String>,
        /// Also check the log against a checkpoint file exported earlier (the automatic one,
        /// [audit] checkpoint_file, is always checked when it exists).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// Verify with the audit log's public key (hex, or a file holding it) instead of the
        /// secret audit key: for a DPO who should hold nothing that can sign.
        #[arg(long, value_name = "KEY|FILE")]
        public_key: Option<String>,
    },
    /// Export a signed checkpoint (head hash and count) to keep somewhere the server cannot write.
    Checkpoint { out: PathBuf },
    /// Print the public key that checks the log's checkpoints (for `verify --public-key`).
    PublicKey,
    /// The DPO's report: timelines, retention compliance, access per doctor, refusals, GDPR art. 30.
    Report {
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        consultation: Option<String>,
        /// md, html or csv.
        #[arg(long, default_value = "md")]
        format: String,
        /// Judge deadlines as of this time (RFC 3339 UTC) instead of now.
        #[arg(long)]
        now: Option<String>,
    },
}

pub fn run(command: AuditCommand, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    let (audit, data_dir) = (&config.audit, paths.data_dir.as_path());
    let output = match &command {
        AuditCommand::Verify { from, checkpoint, public_key } => audit::commands::verify_command(
            audit,
            data_dir,
            &audit::commands::VerifyArgs {
                from: from.as_deref(),
                checkpoint: checkpoint.as_deref(),
                public_key: public_key.as_deref(),
            },
        )?,
        AuditCommand::Checkpoint { out } => audit::commands::checkpoint_command(audit, data_dir, out)?,
        AuditCommand::PublicKey => audit::commands::public_key_command(audit, data_dir)?,
        AuditCommand::Report { from, to, consultation, format, now } => audit::commands::report_command(
            audit,
            data_dir,
            &audit::commands::ReportArgs {
                from: from.as_deref(),
                to: to.as_deref(),
                consultation: consultation.as_deref(),
                format: Some(format),
                now: now.as_deref(),
            },
        )?,
    };
    println!("{}", output.text.trim_end());
    Ok(if output.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
