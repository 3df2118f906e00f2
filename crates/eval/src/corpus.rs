//! Corpus manifests: which consultations to evaluate, where their audio is, and their references.
//!
//! A manifest is one TOML (or JSON, by extension) file; `eval/README.md` documents its fields.
//! Loading the manifest checks its structure only. Each consultation's files are read when that
//! consultation is evaluated ([`ConsultationSpec::load`]), so one missing or unreadable file
//! fails that consultation with a message naming the file, and the rest of the corpus still runs.
//! [`Corpus::problems`] lists every such problem up front.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use transcript::{Role, Transcript};

use crate::note::{Fact, Section};

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{what} {} for consultation {id} does not exist{hint}", path.display())]
    MissingFile { id: String, what: &'static str, path: PathBuf, hint: String },
    #[error("{} is not UTF-8 text (first bad byte at offset {offset}); save it as UTF-8 and run again", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{} is not a valid corpus manifest: {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    BadReference { path: PathBuf, reason: String },
    #[error("{0}")]
    Script(fixtures::Error),
}

/// Where a consultation's audio is: one multichannel WAV, or one file per track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audio {
    /// One WAV with one channel per participant; `roles[i]` speaks on channel `i`.
    Multichannel { path: PathBuf, roles: Vec<Role> },
    /// One file per participant.
    Tracks(Vec<Track>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    pub path: PathBuf,
    pub role: Role,
}

impl Audio {
    pub fn files(&self) -> Vec<&Path> {
        match self {
            Audio::Multichannel { path, .. } => vec![path.as_path()],
            Audio::Tracks(tracks) => tracks.iter().map(|t| t.path.as_path()).collect(),
        }
    }
}

/// Descriptive metadata, copied into the results so tables can be grouped by it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    #[serde(default)]
    pub topic: Option<String>,
    /// Seconds; when absent the harness reads it from the WAV header.
    #[serde(default)]
    pub duration: Option<f64>,
    /// ISO 639-1; defaults to the manifest's `language`.
    #[serde(default)]
    pub language: Option<String>,
}

/// What the pipeline is given for one consultation: never the references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsultationInput {
    pub id: String,
    pub audio: Audio,
    pub language: String,
    pub metadata: Metadata,
}

/// What the pipeline's output is scored against; any part may be missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct References {
    pub transcript: Option<Transcript>,
    /// The note section each reference segment belongs to (fixture scripts label every
    /// utterance), index for index with `transcript.segments`.
    pub labels: Option<Vec<Option<Section>>>,
    pub note: Option<String>,
    pub facts: Option<Vec<Fact>>,
}

impl References {
    pub fn is_empty(&self) -> bool {
        self.transcript.is_none() && self.note.is_none() && self.facts.is_none()
    }
}

/// A consultation with its files read.
#[derive(Debug, Clone)]
pub struct Consultation {
    pub input: ConsultationInput,
    pub references: References,
}

/// One manifest entry, paths resolved, files not yet read.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationSpec {
    pub id: String,
    pub audio: Audio,
    pub script: Option<PathBuf>,
    pub reference_transcript: Option<PathBuf>,
    pub reference_note: Option<PathBuf>,
    pub facts: Option<PathBuf>,
    pub language: String,
    pub metadata: Metadata,
}

/// A loaded manifest.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub name: String,
    pub description: Option<String>,
    pub manifest_path: PathBuf,
    /// SHA-256 of the manifest file, recorded so a run names exactly which corpus it scored.
    pub manifest_sha256: String,
    pub audio_dir: PathBuf,
    pub consultations: Vec<ConsultationSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default = "danish")]
    language: String,
    #[serde(default)]
    audio_dir: Option<PathBuf>,
    #[serde(default, rename = "consultation")]
    consultations: Vec<ManifestEntry>,
}

fn danish() -> String {
    "da".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestEntry {
    id: String,
    #[serde(default)]
    audio: Option<PathBuf>,
    #[serde(default)]
    channels: Option<Vec<Role>>,
    #[serde(default)]
    tracks: Option<Vec<Track>>,
    #[serde(default)]
    script: Option<PathBuf>,
    #[serde(default)]
    reference_transcript: Option<PathBuf>,
    #[serde(default)]
    reference_note: Option<PathBuf>,
    #[serde(default)]
    facts: Option<PathBuf>,
    #[serde(default)]
    metadata: Metadata,
}

#[derive(Deserialize)]
struct FactEntry {
    section: String,
    words: Vec<String>,
}

#[derive(Deserialize)]
struct FactsFile {
    #[serde(rename = "fact")]
    facts: Vec<FactEntry>,
}

/// Reads a file that must be UTF-8 text, saying where it is not.
pub(crate) fn read_text(path: &Path) -> Result<String, CorpusError> {
    let bytes = std::fs::read(path).map_err(|source| CorpusError::Read { path: path.into(), source })?;
    String::from_utf8(bytes)
        .map_err(|e| CorpusError::NotUtf8 { path: path.into(), offset: e.utf8_error().valid_up_to() })
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    secrets::hex(&Sha256::digest(bytes))
}

/// Ids become file names in the output directory, so they are kept to a safe alphabet.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Corpus {
    /// Reads and checks a manifest. Relative paths in it are relative to the manifest's folder;
    /// audio paths are relative to `audio_dir` (itself relative to the manifest's folder).
    pub fn load(manifest: &Path) -> Result<Corpus, CorpusError> {
        let text = read_text(manifest)?;
        let invalid = |reason: String| CorpusError::Manifest { path: manifest.into(), reason };
        let file: ManifestFile = if manifest.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?
        } else {
            toml::from_str(&text).map_err(|e| invalid(e.to_string()))?
        };
        let base = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
        let audio_dir = base.join(file.audio_dir.unwrap_or_default());
        if file.consultations.is_empty() {
            return Err(invalid("it lists no [[consultation]]".into()));
        }
        let mut seen = HashSet::new();
        let mut consultations = Vec::with_capacity(file.consultations.len());
        for entry in file.consultations {
            let id = entry.id;
            if !valid_id(&id) {
                return Err(invalid(format!("consultation id {id:?} must be ASCII letters, digits, '-', '_' or '.'")));
            }
            if !seen.insert(id.clone()) {
                return Err(invalid(format!("consultation id {id:?} appears twice")));
            }
            let audio = match (entry.audio, entry.tracks) {
                (Some(path), None) => Audio::Multichannel {
                    path: audio_dir.join(path),
                    roles: entry.channels.unwrap_or_else(|| vec![Role::Doctor, Role::Patient, Role::Other]),
                },
                (None, Some(tracks)) if entry.channels.is_none() && !tracks.is_empty() => Audio::Tracks(
                    tracks.into_iter().map(|t| Track { path: audio_dir.join(t.path), role: t.role }).collect(),
                ),
                _ => {
                    return Err(invalid(format!(
                        "consultation {id}: give either `audio` (one WAV, optionally with `channels`) or a non-empty `tracks` list"
                    )));
                }
            };
            let language = entry.metadata.language.clone().unwrap_or_else(|| file.language.clone());
            consultations.push(ConsultationSpec {
                id,
                audio,
                script: entry.script.map(|p| base.join(p)),
                reference_transcript: entry.reference_transcript.map(|p| base.join(p)),
                reference_note: entry.reference_note.map(|p| base.join(p)),
                facts: entry.facts.map(|p| base.join(p)),
                language,
                metadata: entry.metadata,
            });
        }
        Ok(Corpus {
            name: file.name,
            description: file.description,
            manifest_path: manifest.to_path_buf(),
            manifest_sha256: sha256_hex(text.as_bytes()),
            audio_dir,
            consultations,
        })
    }

    /// Looks for the audio in `dir` instead of the manifest's `audio_dir` (for audio rendered
    /// somewhere else, such as a test's temporary directory).
    pub fn with_audio_dir(mut self, dir: &Path) -> Corpus {
        let old = self.audio_dir.clone();
        let move_path = |path: &mut PathBuf| {
            if let Ok(relative) = path.strip_prefix(&old) {
                *path = dir.join(relative);
            }
        };
        for spec in &mut self.consultations {
            match &mut spec.audio {
                Audio::Multichannel { path, .. } => move_path(path),
                Audio::Tracks(tracks) => tracks.iter_mut().for_each(|t| move_path(&mut t.path)),
            }
        }
        self.audio_dir = dir.to_path_buf();
        self
    }

    /// Every consultation that would fail to load, with the reason.
    pub fn problems(&self) -> Vec<(String, CorpusError)> {
        self.consultations.iter().filter_map(|spec| spec.load().err().map(|e| (spec.id.clone(), e))).collect()
    }
}

impl ConsultationSpec {
    fn require(&self, what: &'static str, path: &Path, hint: &str) -> Result<(), CorpusError> {
        if path.exists() {
            Ok(())
        } else {
            Err(CorpusError::MissingFile { id: self.id.clone(), what, path: path.into(), hint: hint.into() })
        }
    }

    /// Checks the audio exists and reads the references.
    pub fn load(&self) -> Result<Consultation, CorpusError> {
        for file in self.audio.files() {
            self.require(
                "audio file",
                file,
                "; for the synthetic corpus, render it with `cargo run -p fixtures --bin render-fixtures -- --out <audio_dir>`",
            )?;
        }
        self.load_references()
    }

    /// Reads the references without looking for the audio: all a run of the note stage alone
    /// needs, which drafts from the reference transcript.
    pub fn load_references(&self) -> Result<Consultation, CorpusError> {
        let mut references = References::default();
        let mut metadata = self.metadata.clone();
        if let Some(path) = &self.script {
            self.require("fixture script", path, "")?;
            let timings = match &self.audio {
                Audio::Multichannel { path, .. } => Some(path.with_extension("timings.json")),
                Audio::Tracks(_) => None,
            };
            let topic = read_script(path, timings.as_deref(), &mut references)?;
            metadata.topic.get_or_insert(topic);
        }
        if let Some(path) = &self.reference_transcript {
            self.require("reference transcript", path, "")?;
            let text = read_text(path)?;
            let parsed = if path.extension().is_some_and(|e| e == "json") {
                Transcript::from_json(&text)
            } else {
                Transcript::parse_txt(&text)
            };
            references.transcript =
                Some(parsed.map_err(|e| CorpusError::BadReference { path: path.clone(), reason: e.to_string() })?);
            references.labels = None;
        }
        if let Some(path) = &self.reference_note {
            self.require("reference note", path, "")?;
            references.note = Some(read_text(path)?);
        }
        if let Some(path) = &self.facts {
            self.require("fact list", path, "")?;
            references.facts = Some(read_facts(path)?);
        }
        Ok(Consultation {
            input: ConsultationInput {
                id: self.id.clone(),
                audio: self.audio.clone(),
                language: self.language.clone(),
                metadata,
            },
            references,
        })
    }
}

fn to_facts(path: &Path, entries: Vec<FactEntry>) -> Result<Vec<Fact>, CorpusError> {
    entries
        .into_iter()
        .map(|entry| {
            let section = Section::from_name(&entry.section).ok_or_else(|| CorpusError::BadReference {
                path: path.into(),
                reason: format!(
                    "unknown fact section {:?}: use kontaktaarsag, anamnese, objektivt, vurdering, plan or medicin",
                    entry.section
                ),
            })?;
            Ok(Fact { section, words: entry.words })
        })
        .collect()
}

/// A fact list: TOML with `[[fact]]` tables, or a JSON array of `{section, words}`.
fn read_facts(path: &Path) -> Result<Vec<Fact>, CorpusError> {
    let text = read_text(path)?;
    let bad = |reason: String| CorpusError::BadReference { path: path.into(), reason };
    let entries = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str::<Vec<FactEntry>>(&text).map_err(|e| bad(e.to_string()))?
    } else {
        toml::from_str::<FactsFile>(&text).map_err(|e| bad(e.to_string()))?.facts
    };
    to_facts(path, entries)
}

/// A fixture script (`fixtures/README.md`, read by the `fixtures` crate) gives the reference
/// transcript (one segment per utterance), the section label of each, the note and the facts.
/// When the audio was rendered by `render-fixtures`, the `<id>.timings.json` beside it gives
/// each segment its real time and channel; otherwise segments get nominal times. Returns the
/// script's topic.
fn read_script(path: &Path, timings: Option<&Path>, references: &mut References) -> Result<String, CorpusError> {
    let script = fixtures::Consultation::load(path).map_err(|error| match read_text(path) {
        Err(unreadable) => unreadable,
        Ok(_) => CorpusError::Script(error),
    })?;
    let bad = |reason: String| CorpusError::BadReference { path: path.into(), reason };
    let labels = script
        .utterance
        .iter()
        .enumerate()
        .map(|(index, utterance)| match utterance.label.as_str() {
            "none" => Ok(None),
            name => Section::from_name(name)
                .map(Some)
                .ok_or_else(|| bad(format!("utterance {}: unknown label {name:?}", index + 1))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The fixtures crate writes one `Læge: …` line per utterance; a line break inside one would
    // not read back (and it panics on that), so it is reported here instead.
    if let Some(index) = script.utterance.iter().position(|u| u.text.contains(['\n', '\r'])) {
        return Err(bad(format!("utterance {} spans several lines: write it on one", index + 1)));
    }
    let mut transcript = script.transcript();
    if let Some(timings) = timings.filter(|t| t.exists()) {
        apply_timings(&mut transcript, timings)?;
    }
    references.transcript = Some(transcript);
    references.labels = Some(labels);
    references.note = Some(script.reference_note);
    let facts = script.fact.into_iter().map(|f| FactEntry { section: f.section, words: f.words }).collect();
    references.facts = Some(to_facts(path, facts)?);
    Ok(script.topic)
}

/// Gives each segment the time and channel `render-fixtures` recorded for its utterance.
fn apply_timings(transcript: &mut Transcript, path: &Path) -> Result<(), CorpusError> {
    let bad = |reason: String| CorpusError::BadReference { path: path.into(), reason };
    let timings: Vec<fixtures::Timing> = serde_json::from_str(&read_text(path)?).map_err(|e| bad(e.to_string()))?;
    if timings.len() != transcript.segments.len() {
        return Err(bad(format!(
            "{} timings for {} utterances: render the audio again from the current script",
            timings.len(),
            transcript.segments.len()
        )));
    }
    for (segment, timing) in transcript.segments.iter_mut().zip(&timings) {
        segment.start = timing.start;
        segment.end = timing.end;
        segment.track = timing.channel;
    }
    transcript.duration = timings.iter().map(|t| t.end).fold(0.0, f64::max);
    Ok(())
}

/// The length of a WAV file's audio in seconds, from its header; `None` for anything else.
pub fn wav_duration(path: &Path) -> Option<f64> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut header = [0u8; 12];
    file.read_exact(&mut header).ok()?;
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return None;
    }
    let mut byte_rate = None;
    loop {
        let mut chunk = [0u8; 8];
        file.read_exact(&mut chunk).ok()?;
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]) as u64;
        match &chunk[0..4] {
            b"fmt " => {
                // A real format chunk is 16 to 40 bytes; anything far larger is not a WAV.
                if size > 1024 {
                    return None;
                }
                let mut format = vec![0u8; (size as usize).max(16)];
                file.read_exact(&mut format[..size as usize]).ok()?;
                byte_rate = Some(u32::from_le_bytes([format[8], format[9], format[10], format[11]]));
                if size % 2 == 1 {
                    std::io::copy(&mut file.by_ref().take(1), &mut std::io::sink()).ok()?;
                }
            }
            b"data" => {
                let rate = byte_rate.filter(|r| *r > 0)?;
                // Streamed WAVs may leave the size at its placeholder; fall back to the file size.
                let data = if size == 0 || size == u32::MAX as u64 {
                    std::fs::metadata(path).ok()?.len().saturating_sub(44)
                } else {
                    size
                };
                return Some(data as f64 / rate as f64);
            }
            _ => {
                std::io::copy(&mut file.by_ref().take(size + size % 2), &mut std::io::sink()).ok()?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn manifest_errors_are_specific() {
        let dir = tempfile::tempdir().unwrap();
        let err = |text: &str| Corpus::load(&write(dir.path(), "m.toml", text)).unwrap_err().to_string();
        assert!(err("name = \"x\"").contains("lists no [[consultation]]"));
        assert!(
            err("name = \"x\"\n[[consultation]]\nid = \"../etc\"\naudio = \"a.wav\"").contains("must be ASCII letters")
        );
        assert!(err("name = \"x\"\n[[consultation]]\nid = \"a\"\n").contains("give either `audio`"));
        assert!(
            err("name = \"x\"\n[[consultation]]\nid = \"a\"\naudio = \"a.wav\"\nrefrence_note = \"n\"")
                .contains("unknown field `refrence_note`")
        );
        assert!(err("name = \"x\"\n[[consultation]]\nid = \"a\"\naudio = \"a.wav\"\n[[consultation]]\nid = \"a\"\naudio = \"b.wav\"").contains("appears twice"));
    }

    #[test]
    fn json_manifest_with_tracks_and_separate_references() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "d.wav", "");
        write(dir.path(), "p.wav", "");
        write(dir.path(), "ref.txt", "Læge: Goddag.\nPatient: Jeg har feber.\n");
        write(dir.path(), "note.txt", "Anamnese: Feber.");
        write(dir.path(), "facts.json", r#"[{"section": "Anamnese", "words": ["feber"]}]"#);
        let manifest = write(dir.path(), "m.json", r#"{"name": "own", "consultations_are": null}"#);
        assert!(Corpus::load(&manifest).is_err());
        let manifest = write(
            dir.path(),
            "m.json",
            r#"{"name": "own", "consultation": [{"id": "k1",
                "tracks": [{"path": "d.wav", "role": "doctor"}, {"path": "p.wav", "role": "patient"}],
                "reference_transcript": "ref.txt", "reference_note": "note.txt", "facts": "facts.json",
                "metadata": {"topic": "feber", "duration": 12.5}}]}"#,
        );
        let corpus = Corpus::load(&manifest).unwrap();
        assert!(corpus.problems().is_empty());
        let c = corpus.consultations[0].load().unwrap();
        assert_eq!(c.input.audio.files().len(), 2);
        assert_eq!(c.input.language, "da");
        assert_eq!(c.references.transcript.unwrap().segments[1].speaker, Role::Patient);
        assert_eq!(c.references.facts.unwrap()[0].section, Section::Anamnese);
        assert_eq!(c.references.note.as_deref(), Some("Anamnese: Feber."));
    }

    #[test]
    fn missing_and_non_utf8_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.wav", "");
        std::fs::write(dir.path().join("note.txt"), b"Feber 38,5 \xb0C").unwrap();
        let manifest = write(
            dir.path(),
            "m.toml",
            "name = \"x\"\n[[consultation]]\nid = \"a\"\naudio = \"a.wav\"\nreference_note = \"note.txt\"\n[[consultation]]\nid = \"b\"\naudio = \"b.wav\"\n",
        );
        let problems = Corpus::load(&manifest).unwrap().problems();
        assert_eq!(problems.len(), 2);
        let message = problems[0].1.to_string();
        assert!(message.contains("note.txt is not UTF-8 text (first bad byte at offset 11)"), "{message}");
        let message = problems[1].1.to_string();
        assert!(
            message.contains("audio file") && message.contains("b.wav for consultation b does not exist"),
            "{message}"
        );
        assert!(message.contains("render-fixtures"), "{message}");
    }

    #[test]
    fn bad_fixture_scripts_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.wav", "");
        write(dir.path(), "a.toml", "id = \"a\"\ntopic = \"x\"\n");
        std::fs::write(dir.path().join("b.toml"), b"id = \"b\"\ntitle = \"\xe6ble\"\n").unwrap();
        let manifest = write(
            dir.path(),
            "m.toml",
            "name = \"x\"\n[[consultation]]\nid = \"a\"\naudio = \"a.wav\"\nscript = \"a.toml\"\n[[consultation]]\nid = \"b\"\naudio = \"a.wav\"\nscript = \"b.toml\"\n",
        );
        let problems = Corpus::load(&manifest).unwrap().problems();
        let message = problems[0].1.to_string();
        assert!(message.contains("a.toml") && message.contains("missing field `title`"), "{message}");
        let message = problems[1].1.to_string();
        assert!(message.contains("b.toml is not UTF-8 text (first bad byte at offset 18)"), "{message}");
    }

    #[test]
    fn audio_dir_can_be_moved() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = write(
            dir.path(),
            "m.toml",
            "name = \"x\"\naudio_dir = \"audio\"\n[[consultation]]\nid = \"a\"\naudio = \"a.wav\"\n",
        );
        let corpus = Corpus::load(&manifest).unwrap().with_audio_dir(Path::new("/elsewhere"));
        assert_eq!(corpus.consultations[0].audio.files(), [Path::new("/elsewhere/a.wav")]);
    }
}
