//! The process's one ONNX Runtime.
//!
//! `ort` is built with `load-dynamic`: nothing is downloaded at build time, and the runtime is
//! the `libonnxruntime.so` that `autonotar models fetch` takes from the PyPI `onnxruntime` wheel
//! into the model directory. ONNX Runtime allows one environment per process, so every model
//! (Silero VAD, the note classifier) opens its session through [`session`], which loads the
//! library on first use and turns a missing or broken library into an error that says what to do
//! instead of `ort`'s panic.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub use ort;
pub use ort::session::Session;
pub use ort::value::Tensor;

/// The file name `autonotar models fetch` gives the runtime inside the model directory.
pub const LIBRARY_FILE: &str = "libonnxruntime.so";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("ONNX Runtime library not found at {0}: run `autonotar models fetch`")]
    LibraryMissing(PathBuf),
    #[error("could not load ONNX Runtime from {path}: {reason} (run `autonotar models fetch` to reinstall it)")]
    LibraryBroken { path: PathBuf, reason: String },
    #[error("model file not found at {0}: run `autonotar models fetch`")]
    ModelMissing(PathBuf),
    #[error("could not open the ONNX model {path}: {reason}")]
    ModelBroken { path: PathBuf, reason: String },
}

static ENVIRONMENT: OnceLock<ort::environment::Environment> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

/// The runtime loaded from `model_dir/libonnxruntime.so`. The first successful call wins; later
/// calls reuse it whatever directory they name, because ONNX Runtime cannot be loaded twice.
fn environment(model_dir: &Path) -> Result<&'static ort::environment::Environment, Error> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let _one_loader = LOADING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let path = model_dir.join(LIBRARY_FILE);
    if !path.is_file() {
        return Err(Error::LibraryMissing(path));
    }
    let broken = |reason: String| Error::LibraryBroken { path: path.clone(), reason };
    let env = ort::init_from(&path)
        .map_err(|e| broken(e.to_string()))?
        .with_name("autonotar")
        .build()
        .map_err(|e| broken(e.to_string()))?;
    Ok(ENVIRONMENT.get_or_init(|| env))
}

/// Opens `model` on the runtime in `model_dir` with `threads` intra-op threads.
pub fn session(model_dir: &Path, model: &Path, threads: usize) -> Result<Session, Error> {
    let env = environment(model_dir)?;
    if !model.is_file() {
        return Err(Error::ModelMissing(model.to_path_buf()));
    }
    let broken = |reason: String| Error::ModelBroken { path: model.to_path_buf(), reason };
    Session::builder(env)
        .and_then(|b| b.with_intra_threads(threads.max(1)).map_err(Into::into))
        .and_then(|mut b| b.commit_from_file(model))
        .map_err(|e| broken(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_an_error_that_says_what_to_do() {
        let dir = std::env::temp_dir().join("autonotar-onnx-test-no-library");
        let err = session(&dir, &dir.join("x.onnx"), 1).unwrap_err().to_string();
        assert!(err.contains("autonotar models fetch"), "{err}");
        assert!(err.contains("libonnxruntime.so"), "{err}");
    }
}
