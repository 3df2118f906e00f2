//! `autonotar worker`: serves the Whisper passes of the gateways (`autonotar serve --nats`) on
//! this machine's cores. It keeps no personal data on disk (only the models, fetched on first
//! start if missing); a worker may join or leave while calls run.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::config::{Config, Paths};
use crate::keys_cmd;
use crate::models_cmd::{self, ModelsCommand};
use crate::serve_cmd::termination;

#[derive(Args)]
pub struct WorkerArgs {
    /// The NATS server with JetStream the gateways publish passes to (default: [cluster] nats_url).
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// Serve `/metrics` and `/healthz` on this address (default: none; port 0 picks a free one).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// This worker's name in the gateways' metrics (default: [cluster] name, else the host name).
    #[arg(long)]
    pub name: Option<String>,
}

pub fn run(args: WorkerArgs, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    let url = config
        .cluster
        .url(args.nats)
        .context("no NATS server to take passes from: pass --nats URL or set [cluster] nats_url")?;
    if let Some(name) = &args.name {
        anyhow::ensure!(cluster::wire::valid_name(name), "--name {name:?}: use 1 to 64 letters, digits, '-' or '_'");
    }
    let key = keys_cmd::cluster_key_for_worker(&config.cluster.key_file(&paths.data_dir))?;
    let model = paths.whisper_model(config);
    if !model.is_file() {
        eprintln!("Whisper model missing in {}: fetching the models first", paths.models_dir.display());
        models_cmd::run(ModelsCommand::Fetch { tests: false }, paths)?;
    }
    let recognizer = Arc::new(asr::Recognizer::load(&model, config.asr.options())?);
    let settings = config.cluster.settings(url, key, args.name);
    let stats = Arc::new(cluster::worker::Stats::default());
    // Whisper runs on blocking threads; the runtime only moves messages.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    runtime.block_on(async {
        if let Some(listen) = args.listen {
            let listener =
                tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            // Scripts and tests read this line to find the port.
            eprintln!("autonotar worker: metrics on http://{}/metrics", listener.local_addr()?);
            tokio::spawn(serve_metrics(listener, stats.clone()));
        }
        eprintln!(
            "autonotar worker: {} connecting to {} to serve passes on {} threads",
            settings.name,
            settings.shown_url(),
            recognizer.threads()
        );
        let shutdown = async {
            termination().await;
            eprintln!("autonotar worker: stopping; handing over the pass under way first");
        };
        cluster::worker::run(settings, recognizer, stats, shutdown).await?;
        eprintln!("autonotar worker: stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn serve_metrics(listener: tokio::net::TcpListener, stats: Arc<cluster::worker::Stats>) {
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/metrics", get(move || std::future::ready(stats.render())))
        .route("/healthz", get(|| async { "ok\n" }));
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("the worker's metrics endpoint stopped: {e}");
    }
}
