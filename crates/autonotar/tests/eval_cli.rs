//! `autonotar eval` end to end on a two-consultation corpus: real audio, real models.

mod common;

use common::{autonotar, stderr};

#[test]
fn eval_runs_the_production_pipeline_writes_every_output_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir(&audio).unwrap();
    let mut manifest = String::from("name = \"two\"\nlanguage = \"da\"\naudio_dir = \"audio\"\n");
    for id in ["c07-blaerebetaendelse", "c20-vaegtkontrol"] {
        let script = fixtures::corpus_dir().join(format!("{id}.toml"));
        fixtures::render(&fixtures::Consultation::load(&script).unwrap(), &audio).unwrap();
        manifest.push_str(&format!("\n[[consultation]]\nid = \"{id}\"\naudio = \"{id}.wav\"\nscript = \"{}\"\n", script.display()));
    }
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();

    let output = autonotar(&["--data-dir", "data", "eval", "--corpus", "manifest.toml", "--out", "run"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("2 evaluated, 0 resumed, 0 failed"));
    for file in ["results.json", "per_consultation.csv", "report.md", "report.html"] {
        assert!(dir.path().join("run").join(file).is_file(), "{file} missing");
    }
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("run/results.json")).unwrap()).unwrap();
    assert!(results.to_string().contains("c20-vaegtkontrol"));

    // Resuming into the same directory evaluates nothing again.
    let again = autonotar(&["--data-dir", "data", "eval", "--corpus", "manifest.toml", "--out", "run"], dir.path());
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("0 evaluated, 2 resumed"), "{}", stderr(&again));
    let compare = autonotar(&["eval", "compare", "run", "run"], dir.path());
    assert!(compare.status.success(), "{}", stderr(&compare));

    // Both runs are in the audit log, which verifies.
    let verify = autonotar(&["--data-dir", "data", "audit", "verify"], dir.path());
    assert!(String::from_utf8_lossy(&verify.stdout).starts_with("OK: 2 records"), "{}", String::from_utf8_lossy(&verify.stdout));
}
