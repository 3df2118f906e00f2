//! `autonotar serve`: the live service on a loopback port by default.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;

use crate::config::{Config, Paths};
use crate::listen;
use crate::live_feed::ServiceFeed;
use crate::models_cmd::{self, ModelsCommand};

#[derive(Args)]
pub struct ServeArgs {
    /// Address and port to listen on (default: [server] listen, 127.0.0.1:8470; port 0 picks a free one).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
}

pub fn run(args: ServeArgs, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&paths.data_dir)
        .with_context(|| format!("cannot create the data directory {}", paths.data_dir.display()))?;
    let model = paths.whisper_model(config);
    let settings = config.server.settings(&paths.models_dir, &config.asr.language);
    if !model.is_file() || server::check_models(&settings).is_err() {
        eprintln!("models missing in {}: fetching them first", paths.models_dir.display());
        models_cmd::run(ModelsCommand::Fetch, paths)?;
    }
    server::check_models(&settings)?;
    let recognizer = asr::Recognizer::load(&model, config.asr.options())?;
    // A new user runs serve with nothing set up: the key file is made on first start.
    if !paths.key_file.exists() && std::env::var_os(vault::keys::KEK_ENV).is_none() {
        eprintln!("{}", vault::keys::init(&paths.key_file)?);
    }
    let vault = paths.open_vault()?;
    let audit = Arc::new(Mutex::new(paths.open_audit(config)?));
    let listen = args.listen.unwrap_or(config.server.listen);
    let public_url = config.server.public_url()?;
    let tls_files = config.server.tls()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let tls = match &tls_files {
            Some(files) => Some(listen::tls(files).await?),
            None => None,
        };
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let bound = listener.local_addr()?;
        let store = Store { vault: vault.clone(), audit: audit.clone(), policy: config.retention };
        let service = server::Service::new(settings, recognizer, Some(drafter(paths, store)));
        let feed = ServiceFeed::start(service.clone());
        service.observe(observer(audit.clone(), feed.clone()));
        // Scripts and tests read this line to find the port.
        let ws = if tls.is_some() { "wss" } else { "ws" };
        eprintln!("autonotar serve: listening on {bound} (WebSocket {ws}://{bound}/v1/ingest)");
        let review = review::ReviewState::new(
            vault,
            audit,
            review::LinkSecret::load_or_create(&review::LinkSecret::path_for(&paths.data_dir))?,
            review::ReviewConfig { public_url, retention: config.retention, ..review::ReviewConfig::default() },
        )
        .with_live(feed);
        let app = server::router(service).merge(review::router(review));
        listen::serve(listener, app, tls).await.context("the server stopped")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Where a finished consultation goes: the encrypted vault, with an audit record of each artefact
/// and the deadline the retention policy promises for it.
struct Store {
    vault: vault::Vault,
    audit: Arc<Mutex<audit::AuditLog>>,
    policy: vault::RetentionPolicy,
}

impl Store {
    fn keep(&self, finished: &server::Finished, draft: &note::Draft) -> anyhow::Result<()> {
        let id = finished.consultation.as_str();
        let consultation = audit::Id::new(id)?;
        self.vault.create(id, false)?;
        self.vault.put(id, vault::ArtefactKind::Transcript, finished.transcript.to_json().as_bytes())?;
        self.vault.record(id, vault::Event::TranscriptFinal)?;
        self.vault.put(id, vault::ArtefactKind::Draft, draft.to_json().as_bytes())?;
        review::assign_doctor(&self.vault, id, &audit::Id::new(finished.doctor.as_str())?)?;
        let lifecycle = self.vault.consultation(id)?.lifecycle;
        let duration_ms = (finished.transcript.duration * 1000.0).round() as u64;
        let delete_by = audit::Timestamp::from(self.policy.record_deadline(&lifecycle).at);
        let mut log = self.audit.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        log.append(audit::Event::AudioReceived { consultation: consultation.clone(), duration_ms })?;
        log.append(audit::Event::TranscriptProduced {
            artefact: audit::Id::new(format!("{id}.transcript"))?,
            consultation: consultation.clone(),
            delete_by,
        })?;
        log.append(audit::Event::DraftProduced {
            artefact: audit::Id::new(format!("{id}.draft"))?,
            consultation,
            delete_by,
        })?;
        Ok(())
    }
}

/// Records each consultation the service opens, and each it refuses for want of consent, and
/// tells the review app's feed of each opened. An id the audit log cannot hold is logged as a
/// warning (without the id) rather than stopping capture.
fn observer(audit: Arc<Mutex<audit::AuditLog>>, feed: Arc<ServiceFeed>) -> server::Observer {
    Arc::new(move |seen: server::Observed<'_>| {
        if seen.opened {
            feed.opened();
        }
        let event = (|| -> anyhow::Result<audit::Event> {
            let (consultation, doctor) = (audit::Id::new(seen.consultation)?, audit::Id::new(seen.doctor)?);
            Ok(if seen.opened {
                audit::Event::ConsultationStarted { consultation, doctor }
            } else {
                audit::Event::ConsultationRefused { consultation, doctor, reason: audit::RefusalReason::ConsentMissing }
            })
        })();
        let appended = event.and_then(|e| Ok(audit.lock().unwrap_or_else(|p| p.into_inner()).append(e)?));
        if let Err(e) = appended {
            tracing::warn!("a consultation start could not be audited: {e}");
        }
    })
}

/// Drafts the note over the section model in the models directory and keeps transcript and
/// draft in the vault for the review app. A model that cannot be opened does not stop the
/// service: each draft_ready then carries the transcript and says why there is no draft.
fn drafter(paths: &Paths, store: Store) -> server::Drafter {
    let model = note::OnnxClassifier::open(&paths.models_dir, &paths.models_dir.join(note::MODEL_FILE))
        .map_err(|e| e.to_string());
    if let Err(e) = &model {
        tracing::warn!("drafts are off until the note model opens: {e}");
        eprintln!("warning: no note drafts: {e}");
    }
    let model = Arc::new(model);
    Arc::new(move |finished: &server::Finished| {
        let model = model.as_ref().as_ref().map_err(Clone::clone)?;
        let draft = note::draft(&finished.transcript, model).map_err(|e| e.to_string())?;
        store.keep(finished, &draft).map_err(|e| format!("the draft could not be stored: {e:#}"))?;
        serde_json::to_value(&draft).map_err(|e| e.to_string())
    })
}
