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
    pub vault: VaultConfig,
    pub retention: vault::RetentionPolicy,
    pub audit: audit::AuditConfig,
    pub server: ServerConfig,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The address doctors' browsers reach the service at; links from `autonotar link` start
    /// with it, and an `https://` address makes the session cookie `Secure`.
    pub public_url: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { public_url: "http://127.0.0.1:8470".into() }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultConfig {
    /// The key-encryption key file (default: `autonotar.kek` beside the data directory, so that
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
}

impl Default for AsrConfig {
    fn default() -> Self {
        let defaults = asr::Options::default();
        AsrConfig { language: defaults.language, threads: defaults.threads, beam_size: defaults.beam_size, initial_prompt: defaults.initial_prompt }
    }
}

impl AsrConfig {
    pub fn options(&self) -> asr::Options {
        asr::Options { language: self.language.clone(), threads: self.threads, beam_size: self.beam_size, initial_prompt: self.initial_prompt.clone() }
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
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config file {} is not valid", path.display()))
    }
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
