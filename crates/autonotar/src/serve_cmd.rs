//! `autonotar serve`: the live service on a loopback port by default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Args;

use crate::config::{Config, Paths};
use crate::keys_cmd;
use crate::listen;
use crate::live_feed::{ServiceCapture, ServiceFeed};
use crate::models_cmd::{self, ModelsCommand};

#[derive(Args)]
pub struct ServeArgs {
    /// Address and port to listen on (default: [server] listen, 127.0.0.1:8470; port 0 picks a free one).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Decode on the Whisper workers (`autonotar worker`) behind this NATS server with
    /// JetStream instead of on this machine's cores (default: [cluster] nats_url).
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
}

/// Where the service's Whisper passes run.
enum Decoding {
    Local(asr::Recognizer),
    /// On `autonotar worker`s behind NATS.
    Cluster {
        url: String,
        key: cluster::ClusterKey,
    },
}

pub fn run(args: ServeArgs, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&paths.data_dir)
        .with_context(|| format!("cannot create the data directory {}", paths.data_dir.display()))?;
    let model = paths.whisper_model(config);
    let settings = config.server.settings(&paths.models_dir, &config.asr.language);
    let nats = config.cluster.url(args.nats);
    // A gateway needs the VAD model only: its workers hold Whisper.
    let whisper_missing = nats.is_none() && !model.is_file();
    if whisper_missing || server::check_models(&settings).is_err() {
        eprintln!("models missing in {}: fetching them first", paths.models_dir.display());
        models_cmd::run(ModelsCommand::Fetch { tests: false }, paths)?;
    }
    server::check_models(&settings)?;
    let decoding = match nats {
        None => Decoding::Local(asr::Recognizer::load(&model, config.asr.options())?),
        Some(url) => Decoding::Cluster {
            key: keys_cmd::cluster_key_for_gateway(&config.cluster.key_file(&paths.data_dir))?,
            url,
        },
    };
    // A new user runs serve with nothing set up: the key file is made on first start.
    if !paths.key_file.exists() && std::env::var_os(vault::keys::KEK_ENV).is_none() {
        eprintln!("{}", vault::keys::init(&paths.key_file)?);
    }
    let vault = paths.open_vault()?;
    let audit = Arc::new(Mutex::new(paths.open_audit(config)?));
    let keys = server::IngestKeys::in_data_dir(&paths.data_dir);
    if keys.list()?.is_empty() {
        eprintln!(
            "note: no ingest keys yet; the video platform (or `autonotar replay`) needs one: autonotar ingest-key create NAME"
        );
    }
    let listen = args.listen.unwrap_or(config.server.listen);
    let tls_files = config.server.tls()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let tls = tls_files.as_ref().map(listen::tls).transpose()?;
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let bound = listener.local_addr()?;
        // Unset, the public address is the one actually bound (`--listen` and port 0 included):
        // the capture page's same-origin check compares against it.
        let public_url = config.server.public_url_for(bound)?;
        let keeper = Arc::new(storage::Keeper::new(vault.clone(), audit.clone(), config.retention));
        let decoding: Arc<dyn server::decode::Decode> = match decoding {
            Decoding::Local(recognizer) => server::decode::local(recognizer),
            Decoding::Cluster { url, key } => {
                let settings = config.cluster.settings(url, key, None);
                let shown = settings.shown_url();
                let remote = cluster::Remote::connect(settings).await?;
                eprintln!("autonotar serve: decoding on the workers at {shown} as {}", remote.instance());
                Arc::new(remote)
            }
        };
        let service = server::Service::new(settings, decoding, Some(drafter(config, paths)), keeper);
        let feed = ServiceFeed::start(service.clone());
        if let Some(every) = config.server.sweep_interval() {
            tokio::spawn(sweep_every(every, vault.clone(), audit.clone(), config.retention));
        }
        let checkpoints = config.audit.checkpoint_path(&paths.data_dir);
        if config.audit.checkpoint_interval_seconds > 0 {
            let every = Duration::from_secs(config.audit.checkpoint_interval_seconds);
            tokio::spawn(checkpoint_every(every, audit.clone(), checkpoints.clone()));
        }
        // Scripts and tests read this line to find the port.
        let ws = if tls.is_some() { "wss" } else { "ws" };
        eprintln!("autonotar serve: listening on {bound} (WebSocket {ws}://{bound}/v1/ingest)");
        let review = review::ReviewState::new(
            vault,
            audit.clone(),
            review::LinkSecret::load_or_create(&review::LinkSecret::path_for(&paths.data_dir))?,
            review::ReviewConfig { public_url, retention: config.retention, ..review::ReviewConfig::default() },
        )
        .with_live(feed)
        .with_capture(Arc::new(ServiceCapture(service.clone())));
        let app = server::router(service.clone(), keys).merge(review::router(review));
        // On SIGTERM every call still in memory is stopped and its draft stored while the
        // connections are still up (their clients get draft_ready); only then does HTTP stop.
        let shutdown = async move {
            termination().await;
            eprintln!("autonotar serve: stopping; storing the drafts of calls in progress");
            service.drain().await;
        };
        listen::serve(listener, app, tls, config.server.limits(), shutdown).await.context("the server stopped")?;
        if config.audit.checkpoint_interval_seconds > 0 {
            append_checkpoint(&audit, &checkpoints);
        }
        eprintln!("autonotar serve: stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGTERM or Ctrl-C.
pub(crate) async fn termination() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// The retention sweep, every `every`, off the async threads. A sweep that fails (an audit log
/// that cannot record, say) deletes nothing more and is tried again next time.
async fn sweep_every(
    every: Duration,
    vault: vault::Vault,
    audit: Arc<Mutex<audit::AuditLog>>,
    policy: vault::RetentionPolicy,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let (vault, audit) = (vault.clone(), audit.clone());
        let swept =
            tokio::task::spawn_blocking(move || storage::retention::sweep(&vault, &audit, &policy, SystemTime::now()))
                .await;
        match swept {
            Ok(Ok(report)) if !report.deletions.is_empty() || !report.problems.is_empty() => {
                tracing::warn!(
                    deletions = report.deletions.len(),
                    problems = report.problems.len(),
                    "retention sweep: {} deletion(s), {} problem(s)",
                    report.deletions.len(),
                    report.problems.len()
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("the retention sweep stopped: {e}"),
            Err(e) => tracing::error!("the retention sweep crashed: {e}"),
        }
    }
}

/// A signed checkpoint of the audit log appended to `path` at start and every `every`, so a
/// log later cut short or rolled back no longer verifies against it.
async fn checkpoint_every(every: Duration, audit: Arc<Mutex<audit::AuditLog>>, path: PathBuf) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let (audit, path) = (audit.clone(), path.clone());
        // fsync of the checkpoint file: off the async threads.
        if let Err(e) = tokio::task::spawn_blocking(move || append_checkpoint(&audit, &path)).await {
            tracing::error!("writing the audit checkpoint crashed: {e}");
        }
    }
}

fn append_checkpoint(audit: &Mutex<audit::AuditLog>, path: &Path) {
    let checkpoint = audit.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).checkpoint();
    if let Err(e) = audit::append_checkpoint(path, &checkpoint) {
        tracing::error!("the audit checkpoint was not written: {e}");
    }
}

/// The section model in the models directory and the word list. One that cannot be opened does
/// not stop the service: each draft_ready then carries the transcript and says why there is no draft.
fn drafter(config: &Config, paths: &Paths) -> Arc<note::Drafter> {
    let drafter = config.drafter(paths);
    if let Some(problem) = drafter.problem() {
        tracing::warn!("drafts are off until the note model opens: {problem}");
        eprintln!("warning: no note drafts: {problem}");
    }
    Arc::new(drafter)
}
