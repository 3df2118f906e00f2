//! What the command-line tests share: running the real binary against the real models.
// Each test binary compiles this module and uses only a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// Whisper's worker threads spin: two decodes on two cores slow each other badly, so the tests
/// of one binary run the command one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The models directory the tests use: `AUTONOTAR_MODELS_DIR`, else the repository's
/// `models/cache`. A test that needs models fails, never skips, when they are missing.
pub fn models_dir() -> PathBuf {
    let dir = std::env::var_os("AUTONOTAR_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/cache"));
    assert!(
        ["ggml-base-q8_0.bin", "silero_vad.onnx", "note-classifier.onnx", "libonnxruntime.so"].iter().all(|f| dir.join(f).is_file()),
        "models missing in {}: run `cargo run -p autonotar -- models fetch` first",
        dir.display()
    );
    dir
}

/// Runs `autonotar ARGS` with the test models and no config file from the working directory.
pub fn autonotar(args: &[&str], cwd: &Path) -> Output {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Command::new(env!("CARGO_BIN_EXE_autonotar"))
        .args(args)
        .current_dir(cwd)
        .env("AUTONOTAR_MODELS_DIR", models_dir())
        .output()
        .expect("the autonotar binary runs")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
