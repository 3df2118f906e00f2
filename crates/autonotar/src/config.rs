//! `autonotar.toml`: every setting the commands and the service read, with working defaults so
//! that no file at all is a valid configuration. Secrets never live here: keys come from key
//! files or the environment.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The file read when `--config` is not given and it exists in the working directory.
pub const DEFAULT_FILE: &str = "autonotar.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where consultations, keys and the audit log live.
    pub data_dir: Option<PathBuf>,
    pub models: ModelsConfig,
    pub asr: AsrConfig,
    pub note: NoteConfig,
    pub vault: VaultConfig,
    pub retention: vault::RetentionPolicy,
    pub audit: audit::AuditConfig,
    pub server: ServerConfig,
    pub cluster: ClusterConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultConfig {
    /// The key-encryption key file (default: `<data_dir>.kek`, beside the data directory, so that
    /// a backup of the data directory does not carry the key that opens it).
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// Where `models fetch` puts downloads and produced models, and where every model is read.
    pub dir: PathBuf,
    /// The whisper.cpp GGML model: a file name inside `dir`, or a path. A site may drop in a
    /// larger multilingual model here.
    pub whisper: PathBuf,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig { dir: PathBuf::from("models/cache"), whisper: PathBuf::from("ggml-base-q8_0.bin") }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AsrConfig {
    pub language: String,
    pub threads: usize,
    pub beam_size: usize,
    pub initial_prompt: Option<String>,
    /// The clinic's own words (drug brands, place names, colleagues), primed first.
    pub vocabulary: Vec<String>,
    /// Also prime with the drafter's drug lexicon. Off by default: measured on real Danish it
    /// does not make the words better (docs/models.md).
    pub prime_with_lexicon: bool,
}

impl Default for AsrConfig {
    fn default() -> Self {
        let defaults = asr::Options::default();
        AsrConfig {
            language: defaults.language,
            threads: defaults.threads,
            beam_size: defaults.beam_size,
            initial_prompt: defaults.initial_prompt,
            vocabulary: defaults.vocabulary,
            prime_with_lexicon: false,
        }
    }
}

impl AsrConfig {
    /// The clinic's words, then the lexicon's if asked for, each once.
    fn priming_words(&self) -> Vec<String> {
        let lexicon = self.prime_with_lexicon.then(note::priming_words).unwrap_or_default();
        let mut words: Vec<String> = Vec::new();
        for word in self.vocabulary.iter().map(String::as_str).chain(lexicon) {
            if !words.iter().any(|w| w.eq_ignore_ascii_case(word)) {
                words.push(word.to_string());
            }
        }
        words
    }

    pub fn options(&self) -> asr::Options {
        asr::Options {
            language: self.language.clone(),
            threads: self.threads,
            beam_size: self.beam_size,
            initial_prompt: self.initial_prompt.clone(),
            vocabulary: self.priming_words(),
        }
    }
}

/// `[note]`: the drafter.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoteConfig {
    /// The Danish hunspell dictionary a statement's words are checked against: the path of its
    /// `.aff` and `.dic` files without the extension. A statement with a word that is neither
    /// Danish (inflections and compounds included), a drug nor a clinical term goes to the
    /// doctor's attention instead of the note.
    pub dictionary: PathBuf,
}

impl Default for NoteConfig {
    fn default() -> Self {
        NoteConfig { dictionary: PathBuf::from(danish::SYSTEM_DICTIONARY) }
    }
}

impl Config {
    /// The drafter of `draft`, `serve` and `eval`: the section model in the models directory and
    /// the Danish dictionary, or the reason it cannot draft.
    pub fn drafter(&self, paths: &Paths) -> note::Drafter {
        note::Drafter::open(&paths.models_dir, &paths.models_dir.join(note::MODEL_FILE), &self.note.dictionary)
    }
}

/// `[server]`: the live service (`autonotar serve`).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on; loopback unless the clinic network is meant to reach it.
    pub listen: std::net::SocketAddr,
    /// Consultations served at once; more are refused with `busy`.
    pub max_sessions: usize,
    /// Largest audio payload of one binary frame (bytes).
    pub max_frame_bytes: usize,
    /// Audio per track queued ahead of transcription before the server slows the client down.
    pub max_buffered_seconds: f64,
    /// A consultation without audio for this long is finalised as if the client had sent stop.
    pub idle_timeout_seconds: u64,
    /// How long a finished consultation's draft stays in memory for a reconnecting client.
    pub keep_finished_seconds: u64,
    /// Spacing of interim recognition passes over ongoing speech; 0 commits only at pauses.
    pub interim_seconds: f64,
    /// How often, at most, the note is drafted from the text committed so far during a call
    /// (shown on the live page, and sent to ingest clients that ask); 0 drafts only at hang-up.
    pub interim_draft_seconds: f64,
    /// How long a new ingest connection may take to send its `start`.
    pub start_timeout_seconds: u64,
    /// How often `serve` runs the retention sweep; 0 leaves sweeping to `retention sweep` (cron).
    pub sweep_interval_seconds: u64,
    /// Open HTTP connections at once (review pages, event streams, ingest upgrades in progress).
    pub max_connections: usize,
    /// How long a client may take over its TLS handshake and over each request head.
    pub header_timeout_seconds: u64,
    /// The address doctors' browsers reach the service at; links from `autonotar link` start
    /// with it, and an `https://` address makes the review session cookie `Secure`. Default:
    /// `http://` (or with TLS `https://`) and `listen`.
    pub public_url: Option<String>,
    /// PEM certificate chain and private key: with both set, `serve` speaks only HTTPS and WSS.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

/// The certificate and key `serve` answers TLS with.
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let defaults = server::Settings::new(PathBuf::new());
        ServerConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8470)),
            max_sessions: defaults.max_sessions,
            max_frame_bytes: defaults.max_frame_bytes,
            max_buffered_seconds: defaults.max_buffered_seconds,
            idle_timeout_seconds: defaults.idle_timeout.as_secs(),
            keep_finished_seconds: defaults.keep_finished.as_secs(),
            interim_seconds: defaults.interim_every,
            interim_draft_seconds: defaults.interim_draft_every.map_or(0.0, |d| d.as_secs_f64()),
            start_timeout_seconds: defaults.start_timeout.as_secs(),
            sweep_interval_seconds: 15 * 60,
            max_connections: 256,
            header_timeout_seconds: 10,
            public_url: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl ServerConfig {
    /// The certificate and key when TLS is configured; one without the other is an error.
    pub fn tls(&self) -> anyhow::Result<Option<TlsFiles>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert: cert.clone(), key: key.clone() })),
            (None, None) => Ok(None),
            _ => anyhow::bail!("[server] tls_cert and tls_key go together: set both (PEM files) for HTTPS, or neither"),
        }
    }

    /// `public_url`, or the address `listen` is reached at with the scheme TLS decides. An
    /// `http://` address with TLS on is refused: its links would not reach the service.
    pub fn public_url(&self) -> anyhow::Result<String> {
        self.public_url_for(self.listen)
    }

    /// The public address of a server listening on `listen`: `public_url` when set, else the
    /// listening address itself.
    pub fn public_url_for(&self, listen: std::net::SocketAddr) -> anyhow::Result<String> {
        let tls = self.tls()?.is_some();
        match &self.public_url {
            Some(url) if tls && !url.starts_with("https://") => {
                anyhow::bail!("[server] public_url {url:?} must start with https:// when tls_cert and tls_key are set")
            }
            Some(url) => Ok(url.clone()),
            None => Ok(format!("{}://{}", if tls { "https" } else { "http" }, listen)),
        }
    }

    /// Refuses values outside what the service can honour, naming the key and its range, so
    /// that a typo fails at start and not as a crash during a call.
    fn check(&self) -> anyhow::Result<()> {
        const DAY: u64 = 86_400;
        let whole = |key: &str, value: u64, range: std::ops::RangeInclusive<u64>| {
            anyhow::ensure!(
                range.contains(&value),
                "[server] {key} = {value} is outside {}..={}",
                range.start(),
                range.end()
            );
            Ok(())
        };
        let seconds = |key: &str, value: f64, range: std::ops::RangeInclusive<f64>| {
            anyhow::ensure!(range.contains(&value), "[server] {key} = {value} is outside {range:?}");
            Ok(())
        };
        whole("max_sessions", self.max_sessions as u64, 1..=1024)?;
        whole("max_frame_bytes", self.max_frame_bytes as u64, 1024..=16 << 20)?;
        seconds("max_buffered_seconds", self.max_buffered_seconds, 1.0..=3600.0)?;
        whole("idle_timeout_seconds", self.idle_timeout_seconds, 1..=DAY)?;
        whole("keep_finished_seconds", self.keep_finished_seconds, 0..=DAY)?;
        seconds("interim_seconds", self.interim_seconds, 0.0..=60.0)?;
        seconds("interim_draft_seconds", self.interim_draft_seconds, 0.0..=3600.0)?;
        whole("start_timeout_seconds", self.start_timeout_seconds, 1..=600)?;
        whole("sweep_interval_seconds", self.sweep_interval_seconds, 0..=DAY)?;
        whole("max_connections", self.max_connections as u64, 1..=65_536)?;
        whole("header_timeout_seconds", self.header_timeout_seconds, 1..=600)
    }

    pub fn limits(&self) -> crate::listen::Limits {
        crate::listen::Limits {
            max_connections: self.max_connections,
            header_timeout: std::time::Duration::from_secs(self.header_timeout_seconds),
        }
    }

    pub fn settings(&self, models_dir: &Path, language: &str) -> server::Settings {
        server::Settings {
            models_dir: models_dir.to_path_buf(),
            language: language.to_string(),
            max_sessions: self.max_sessions,
            max_frame_bytes: self.max_frame_bytes,
            max_buffered_seconds: self.max_buffered_seconds,
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_seconds),
            keep_finished: std::time::Duration::from_secs(self.keep_finished_seconds),
            interim_every: self.interim_seconds,
            interim_draft_every: (self.interim_draft_seconds > 0.0)
                .then(|| std::time::Duration::from_secs_f64(self.interim_draft_seconds)),
            start_timeout: std::time::Duration::from_secs(self.start_timeout_seconds),
        }
    }

    /// `None` when `serve` leaves sweeping to cron.
    pub fn sweep_interval(&self) -> Option<std::time::Duration> {
        (self.sweep_interval_seconds > 0).then(|| std::time::Duration::from_secs(self.sweep_interval_seconds))
    }
}

impl Config {
    /// Reads `explicit` if given (it must exist), else `./autonotar.toml` if present, else defaults.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Config> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
            None => return Ok(Config::default()),
        };
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read config file {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("config file {} is not valid", path.display()))
    }

    /// The configuration a file's text describes, checked as `load` checks it.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text)?;
        config.server.check()?;
        config.cluster.check()?;
        Ok(config)
    }
}

/// `[cluster]`: Whisper passes on NATS JetStream workers (`serve --nats`, `worker`).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// The NATS server (with JetStream) the gateways and workers meet at; `--nats` overrides.
    /// Unset, `serve` decodes on its own cores.
    pub nats_url: Option<String>,
    /// The cluster key every gateway and worker of a region shares (64 hex digits, mode 0600).
    /// Default: `<data_dir>.cluster-key`, beside the KEK.
    pub key_file: Option<PathBuf>,
    /// CA certificate (PEM) NATS's TLS certificate must chain to; set, TLS is required.
    pub tls_ca_file: Option<PathBuf>,
    /// How long a job may go without word from its worker before JetStream gives it to
    /// another: how long a dead worker delays a pass. The first process to create the queue sets it.
    pub ack_wait_seconds: u64,
    /// How long a consultation waits for a pass before it goes on without it.
    pub pass_timeout_seconds: u64,
    /// This process's name in pass ids and metrics (letters, digits, `-`, `_`); default the
    /// host name.
    pub name: Option<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nats_url: None,
            key_file: None,
            tls_ca_file: None,
            ack_wait_seconds: 30,
            pass_timeout_seconds: 600,
            name: None,
        }
    }
}

impl ClusterConfig {
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=600).contains(&self.ack_wait_seconds),
            "[cluster] ack_wait_seconds = {} is outside 1..=600",
            self.ack_wait_seconds
        );
        anyhow::ensure!(
            (10..=3600).contains(&self.pass_timeout_seconds),
            "[cluster] pass_timeout_seconds = {} is outside 10..=3600",
            self.pass_timeout_seconds
        );
        if let Some(name) = &self.name {
            anyhow::ensure!(
                cluster::wire::valid_name(name),
                "[cluster] name = {name:?}: use 1 to 64 letters, digits, '-' or '_'"
            );
        }
        Ok(())
    }

    pub fn key_file(&self, data_dir: &Path) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| data_dir.with_extension("cluster-key"))
    }

    /// The NATS URL: `--nats` if given, else `nats_url`.
    pub fn url(&self, nats: Option<String>) -> Option<String> {
        nats.or_else(|| self.nats_url.clone())
    }

    /// What a gateway or worker connects to `url` with; `name` (`--name`) overrides `name`.
    pub fn settings(&self, url: String, key: cluster::ClusterKey, name: Option<String>) -> cluster::Settings {
        cluster::Settings {
            url,
            key: std::sync::Arc::new(key),
            tls_ca: self.tls_ca_file.clone(),
            ack_wait: std::time::Duration::from_secs(self.ack_wait_seconds),
            pass_timeout: std::time::Duration::from_secs(self.pass_timeout_seconds),
            name: name.or_else(|| self.name.clone()).unwrap_or_else(host_name),
        }
    }
}

/// The machine's name, cut to what a NATS subject and a metric label take.
fn host_name() -> String {
    let name: String = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .take(48)
        .collect();
    if name.is_empty() { "autonotar".into() } else { name }
}

/// Directory settings after the command line, the environment and the file have had their say.
pub struct Paths {
    pub data_dir: PathBuf,
    pub models_dir: PathBuf,
    pub key_file: PathBuf,
}

impl Paths {
    pub fn resolve(config: &Config, data_dir: Option<PathBuf>, models_dir: Option<PathBuf>) -> Paths {
        let data_dir = data_dir.or_else(|| config.data_dir.clone()).unwrap_or_else(|| PathBuf::from("autonotar-data"));
        let key_file = config.vault.key_file.clone().unwrap_or_else(|| data_dir.with_extension("kek"));
        Paths { data_dir, models_dir: models_dir.unwrap_or_else(|| config.models.dir.clone()), key_file }
    }

    pub fn whisper_model(&self, config: &Config) -> PathBuf {
        self.models_dir.join(&config.models.whisper)
    }

    /// The audit log under the data directory (its key is created on first use).
    pub fn open_audit(&self, config: &Config) -> anyhow::Result<audit::AuditLog> {
        Ok(audit::AuditLog::open(&config.audit, &self.data_dir)?)
    }

    /// The vault under the data directory, opened with the KEK from `AUTONOTAR_KEK` or the key file.
    pub fn open_vault(&self) -> anyhow::Result<vault::Vault> {
        let kek = vault::Kek::load(&self.key_file)?;
        Ok(vault::Vault::open(&self.data_dir, kek)?)
    }
}
