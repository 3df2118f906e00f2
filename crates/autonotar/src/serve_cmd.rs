//! `autonotar serve`: the live service on a loopback port by default.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::config::{Config, Paths};
use crate::models_cmd::{self, ModelsCommand};

#[derive(Args)]
pub struct ServeArgs {
    /// Address and port to listen on (default: [server] listen, 127.0.0.1:8710; port 0 picks a free one).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
}

pub fn run(args: ServeArgs, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&paths.data_dir).with_context(|| format!("cannot create the data directory {}", paths.data_dir.display()))?;
    let model = paths.whisper_model(config);
    let settings = config.server.settings(&paths.models_dir, &config.asr.language);
    if !model.is_file() || server::check_models(&settings).is_err() {
        eprintln!("models missing in {}: fetching them first", paths.models_dir.display());
        models_cmd::run(ModelsCommand::Fetch, paths)?;
    }
    server::check_models(&settings)?;
    let recognizer = asr::Recognizer::load(&model, config.asr.options())?;
    let listen = args.listen.unwrap_or(config.server.listen);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let bound = listener.local_addr()?;
        let service = server::Service::new(settings, recognizer, Some(drafter(paths)));
        // Scripts and tests read this line to find the port.
        eprintln!("autonotar serve: listening on {bound} (WebSocket ws://{bound}/v1/ingest)");
        server::serve(listener, service).await.context("the server stopped")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The note drafter over the section model in the models directory. A model that cannot be
/// opened does not stop the service: each draft_ready then carries the transcript and says why
/// there is no draft.
fn drafter(paths: &Paths) -> server::Drafter {
    let model = note::OnnxClassifier::open(&paths.models_dir, &paths.models_dir.join(note::MODEL_FILE)).map_err(|e| e.to_string());
    if let Err(e) = &model {
        tracing::warn!("drafts are off until the note model opens: {e}");
        eprintln!("warning: no note drafts: {e}");
    }
    let model = Arc::new(model);
    Arc::new(move |transcript: &transcript::Transcript| {
        let model = model.as_ref().as_ref().map_err(Clone::clone)?;
        let draft = note::draft(transcript, model).map_err(|e| e.to_string())?;
        serde_json::to_value(&draft).map_err(|e| e.to_string())
    })
}
