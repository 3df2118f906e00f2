//! `autonotar`: the on-premise auto-notary's command line.
//!
//! Every subcommand that reads or writes stored data takes `--data-dir` and `--config`; the
//! command names are a contract with the practice system's scripts.

mod audit_cmd;
mod draft_cmd;
mod eval_cmd;
mod ingest_key_cmd;
mod keys_cmd;
mod link_cmd;
mod live_feed;
mod models_cmd;
mod replay_cmd;
mod retention_cmd;
mod serve_cmd;
mod transcribe_cmd;
mod worker_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use autonotar::{config, listen};
use clap::{Parser, Subcommand};

use crate::config::{Config, Paths};

#[derive(Parser)]
#[command(name = "autonotar", version, about = "On-premise auto-notary for Danish general practice")]
struct Cli {
    /// Configuration file (default: ./autonotar.toml if present, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory: consultations, keys, audit log (overrides the config file).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Models directory (overrides [models] dir).
    #[arg(long, global = true, value_name = "DIR", env = "AUTONOTAR_MODELS_DIR")]
    models_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch, verify and build the model files.
    Models {
        #[command(subcommand)]
        command: models_cmd::ModelsCommand,
    },
    /// Transcribe a WAV recording, one channel per participant.
    Transcribe(transcribe_cmd::TranscribeArgs),
    /// Draft a Danish journal note from a recording or a transcript.
    Draft(draft_cmd::DraftArgs),
    /// Run the pipeline over an evaluation corpus, or compare two runs.
    Eval(eval_cmd::EvalArgs),
    /// Run the live service: WebSocket ingest, streaming transcription, a draft at hang-up.
    Serve(serve_cmd::ServeArgs),
    /// Serve the Whisper passes of services started with `serve --nats`, from a NATS JetStream queue.
    Worker(worker_cmd::WorkerArgs),
    /// Stream a WAV file to a running service as a live consultation and print what comes back.
    Replay(replay_cmd::ReplayArgs),
    /// Create or rotate the vault's key-encryption key.
    Keys {
        #[command(subcommand)]
        command: keys_cmd::KeysCommand,
    },
    /// Create, list or revoke the keys the video platform connects to ingest with.
    IngestKey {
        #[command(subcommand)]
        command: ingest_key_cmd::IngestKeyCommand,
    },
    /// Print a signed, single-use link into the review app for a doctor (for the practice system).
    Link(link_cmd::LinkArgs),
    /// Verify the audit log, export a checkpoint, or write the DPO's report.
    Audit {
        #[command(subcommand)]
        command: audit_cmd::AuditCommand,
    },
    /// Show or apply the retention policy: what is deleted when.
    Retention {
        #[command(subcommand)]
        command: retention_cmd::RetentionCommand,
    },
}

fn main() -> ExitCode {
    big_buffers_from_the_os();
    let cli = Cli::parse();
    use tracing_subscriber::prelude::*;
    // No filter for spoken words is needed here: asr's log hook drops whisper.cpp's token lines.
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(tracing_subscriber::EnvFilter::try_from_env("AUTONOTAR_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    let paths = Paths::resolve(&config, cli.data_dir, cli.models_dir);
    match cli.command {
        Command::Models { command } => models_cmd::run(command, &paths),
        Command::Transcribe(args) => transcribe_cmd::run(args, &config, &paths),
        Command::Draft(args) => draft_cmd::run(args, &config, &paths),
        Command::Eval(args) => eval_cmd::run(args, cli.config.as_deref(), &config, &paths),
        Command::Serve(args) => serve_cmd::run(args, &config, &paths),
        Command::Worker(args) => worker_cmd::run(args, &config, &paths),
        Command::Replay(args) => replay_cmd::run(args),
        Command::Keys { command } => keys_cmd::run(command, &config, &paths),
        Command::IngestKey { command } => ingest_key_cmd::run(command, &config, &paths),
        Command::Audit { command } => audit_cmd::run(command, &config, &paths),
        Command::Link(args) => link_cmd::run(args, &config, &paths),
        Command::Retention { command } => retention_cmd::run(command, &config, &paths),
    }
}

/// The error and its causes on one line, for scripts to log and people to read. Many of our
/// errors already say their cause ("cannot read X: No such file or directory"), so a cause whose
/// words are already on the line is not repeated.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = error.to_string();
    for cause in error.chain().skip(1).map(ToString::to_string) {
        if !line.contains(&cause) {
            line = format!("{line}: {cause}");
        }
    }
    line.replace('\n', " ")
}

/// Every buffer of a megabyte or more is mapped from the OS and given back when freed. Each
/// Whisper pass makes and frees about 30 MB of decoder state, and the live path hands windows of
/// audio (up to 1.8 MB) between threads. Left alone, glibc raises its mmap threshold to the
/// largest block freed so far (up to 32 MiB), after which such buffers come from its heaps,
/// which fragment: two ten-minute consultations grew the server from 415 MiB to 742-993 MiB.
/// With the threshold fixed, the same run peaked at 386 MiB, no slower.
fn big_buffers_from_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the allocator; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
