//! The `[audit]` section of autonotar.toml: where the log lives, how it rotates, and the texts of
//! the record of processing activities (GDPR art. 30) that the DPO's report prints.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{AuditError, Purpose, Result};

/// Longest legal-basis text accepted; it is copied into every record.
const MAX_LEGAL_BASIS_CHARS: usize = 300;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Directory of the log segments; default `<data-dir>/audit`.
    pub dir: Option<PathBuf>,
    /// The HMAC key file; default `<data-dir>.audit-key`, beside the data directory and not in
    /// it, so that whoever can write the log cannot also re-sign it. Better on other storage.
    pub key_file: Option<PathBuf>,
    /// Start a new segment file when the current one would grow past this.
    pub max_file_bytes: u64,
    /// Start a new segment file on each new UTC day.
    pub rotate_daily: bool,
    /// fsync every record before the action it describes is acknowledged. Only turn off for tests.
    pub fsync: bool,
    /// Where `serve` appends a signed checkpoint of the log; default `<data-dir>.audit-checkpoints`,
    /// outside the data directory. Better on storage the server can append to but not rewrite
    /// (a remote mount, a WORM share): then a rolled-back or cut-off log no longer verifies.
    pub checkpoint_file: Option<PathBuf>,
    /// How often `serve` appends a checkpoint (also one at start and one at shutdown); 0 = never.
    pub checkpoint_interval_seconds: u64,
    pub legal_basis: LegalBasis,
    pub processing: ProcessingRecord,
}

impl Default for AuditConfig {
    fn default() -> AuditConfig {
        AuditConfig {
            dir: None,
            key_file: None,
            max_file_bytes: 64 * 1024 * 1024,
            rotate_daily: true,
            fsync: true,
            checkpoint_file: None,
            checkpoint_interval_seconds: 3600,
            legal_basis: LegalBasis::default(),
            processing: ProcessingRecord::default(),
        }
    }
}

impl AuditConfig {
    pub fn log_dir(&self, data_dir: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| data_dir.join("audit"))
    }

    pub fn checkpoint_path(&self, data_dir: &Path) -> PathBuf {
        self.checkpoint_file.clone().unwrap_or_else(|| data_dir.with_extension("audit-checkpoints"))
    }

    /// The audit key's file. Refuses to guess when the key still sits where it used to be by
    /// default (`<data-dir>/audit.key`): a new key there would fork the log, so the user moves it.
    pub fn key_path(&self, data_dir: &Path) -> Result<PathBuf> {
        if let Some(path) = &self.key_file {
            return Ok(path.clone());
        }
        let path = data_dir.with_extension("audit-key");
        let old = data_dir.join("audit.key");
        if old.exists() && !path.exists() {
            return Err(AuditError::Config(format!(
                "the audit key is still inside the data directory ({}), where whoever can write the log could also re-sign it; \
                 move it out with `mv {} {}` (or set [audit] key_file to its path)",
                old.display(),
                old.display(),
                path.display()
            )));
        }
        Ok(path)
    }

    /// Rejects settings the log cannot work with, saying which key to fix.
    pub fn validate(&self) -> Result<()> {
        if self.max_file_bytes < 2 * crate::MAX_RECORD_BYTES as u64 {
            return Err(AuditError::Config(format!(
                "audit.max_file_bytes must be at least {}",
                2 * crate::MAX_RECORD_BYTES
            )));
        }
        for purpose in Purpose::ALL {
            let text = self.legal_basis.for_purpose(purpose);
            if text.trim().is_empty()
                || text.chars().count() > MAX_LEGAL_BASIS_CHARS
                || text.chars().any(char::is_control)
            {
                return Err(AuditError::Config(format!(
                    "audit.legal_basis.{} must be one line of 1–{MAX_LEGAL_BASIS_CHARS} characters",
                    purpose_key(purpose)
                )));
            }
        }
        Ok(())
    }
}

fn purpose_key(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Care => "care",
        Purpose::Retention => "retention",
        Purpose::Security => "security",
        Purpose::Research => "research",
    }
}

/// The legal basis per purpose, as the controller words it; stamped into each record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegalBasis {
    pub care: String,
    pub retention: String,
    pub security: String,
    pub research: String,
}

impl LegalBasis {
    pub fn for_purpose(&self, purpose: Purpose) -> &str {
        match purpose {
            Purpose::Care => &self.care,
            Purpose::Retention => &self.retention,
            Purpose::Security => &self.security,
            Purpose::Research => &self.research,
        }
    }
}

impl Default for LegalBasis {
    fn default() -> LegalBasis {
        LegalBasis {
            care: "Autorisationsloven § 21 og journalføringsbekendtgørelsen; sundhedsloven kap. 9; \
                   GDPR art. 6(1)(c) og art. 9(2)(h)"
                .into(),
            retention: "GDPR art. 5(1)(e) og art. 17; art. 6(1)(c)".into(),
            security: "GDPR art. 5(1)(f) og art. 32; art. 6(1)(c)".into(),
            research: "GDPR art. 9(2)(j); databeskyttelsesloven § 10 (kun med godkendelse)".into(),
        }
    }
}

/// The record of processing activities (GDPR art. 30(1)), as texts the controller maintains.
/// The defaults describe a Danish general practice running Autonotar; review them with the DPO.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessingRecord {
    pub controller: String,
    pub dpo_contact: String,
    pub purposes: Vec<String>,
    pub data_subjects: Vec<String>,
    pub data_categories: Vec<String>,
    pub recipients: Vec<String>,
    pub third_country_transfers: String,
    pub retention: Vec<String>,
    pub security_measures: Vec<String>,
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

impl Default for ProcessingRecord {
    fn default() -> ProcessingRecord {
        ProcessingRecord {
            controller: "Lægepraksis (udfyld navn, CVR-nr. og adresse)".into(),
            dpo_contact: "Databeskyttelsesrådgiver (udfyld navn og kontaktoplysninger)".into(),
            purposes: texts(&[
                "Patientbehandling: udkast til journalnotat fra videokonsultationen, som lægen gennemser, \
                 retter, godkender og selv overfører til lægepraksissystemet",
                "Sletning af mellemprodukter til tiden (opbevaringsbegrænsning)",
                "Informationssikkerhed: adgangskontrol, nøglehåndtering og manipulationssikker logning",
                "Forskning og kvalitetsudvikling på pseudonymiserede data (kun hvis godkendt og slået til)",
            ]),
            data_subjects: texts(&[
                "Patienter i videokonsultation",
                "Andre deltagere i konsultationen (fx pårørende eller tolk)",
                "Praksisens læger (brugere)",
            ]),
            data_categories: texts(&[
                "Helbredsoplysninger (GDPR art. 9): lyd af konsultationen (kun i arbejdshukommelsen), \
                 transskription og udkast til journalnotat",
                "Pseudonymt konsultations-id, tidspunkter og varighed",
                "Lægens bruger-id og log-ind-hændelser",
            ]),
            recipients: texts(&[
                "Ingen videregivelse: al behandling sker lokalt på praksisens egen server",
                "Lægepraksissystemet: lægen overfører selv det godkendte notat",
                "Forskere: kun pseudonymiserede uddrag efter særskilt godkendelse",
            ]),
            third_country_transfers: "Ingen overførsel til tredjelande".into(),
            retention: texts(&[
                "Lyd: gemmes ikke; behandles kun i arbejdshukommelsen under konsultationen",
                "Transskription og notatudkast: krypteret; slettes ved krypto-sletning senest ved den frist, \
                 opbevaringspolitikken i [vault] fastsætter (fristen står i auditloggen for hver artefakt)",
                "Det godkendte journalnotat opbevares i lægepraksissystemet efter journalføringsreglerne, \
                 ikke i Autonotar",
                "Auditlog: opbevares så længe den dokumenterer behandlingen (fastsættes af den dataansvarlige)",
            ]),
            security_measures: texts(&[
                "Lokal behandling (on-premise); ingen cloud-tjenester, ingen netværkskald ud af huset",
                "AES-256-GCM-kryptering i hvile med en datanøgle pr. konsultation, pakket med en \
                 nøglekrypteringsnøgle (KEK)",
                "Sletning ved krypto-sletning (datanøglen destrueres)",
                "Lægens adgang via signeret engangslink og sessionscookie",
                "Manipulationssikker auditlog: hash-kæde og HMAC-SHA-256 med egen nøgle; \
                 hver post fsynces før handlingen kvitteres",
                "Ingen personoplysninger (navne, CPR-numre, tekst) i logs",
            ]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_section_gives_the_defaults_and_keys_override_them() {
        let config: AuditConfig = toml::from_str("").unwrap();
        assert_eq!(config, AuditConfig::default());
        config.validate().unwrap();
        let config: AuditConfig = toml::from_str(
            "max_file_bytes = 1048576\nrotate_daily = false\n[legal_basis]\ncare = \"GDPR art. 9(2)(h)\"\n",
        )
        .unwrap();
        assert_eq!(config.legal_basis.care, "GDPR art. 9(2)(h)");
        assert_eq!(config.legal_basis.security, LegalBasis::default().security);
        assert!(!config.rotate_daily);
    }

    #[test]
    fn rejects_unknown_keys_and_multi_line_legal_basis() {
        assert!(toml::from_str::<AuditConfig>("fsnyc = false").is_err());
        let mut config = AuditConfig::default();
        config.legal_basis.research = "line one\nline two".into();
        assert!(config.validate().is_err());
    }
}
