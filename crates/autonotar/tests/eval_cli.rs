//! `autonotar eval` end to end on tiny corpora: real audio, real models.

mod common;

use common::{autonotar, stderr};
use transcript::Role;

#[test]
fn eval_runs_the_production_pipeline_writes_every_output_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir(&audio).unwrap();
    let mut manifest = String::from("name = \"two\"\nlanguage = \"da\"\naudio_dir = \"audio\"\n");
    for id in ["c07-blaerebetaendelse", "c20-vaegtkontrol"] {
        let script = fixtures::corpus_dir().join(format!("{id}.toml"));
        fixtures::render(&fixtures::Consultation::load(&script).unwrap(), &audio).unwrap();
        manifest.push_str(&format!(
            "\n[[consultation]]\nid = \"{id}\"\naudio = \"{id}.wav\"\nscript = \"{}\"\n",
            script.display()
        ));
    }
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();

    let output = autonotar(&["--data-dir", "data", "eval", "--corpus", "manifest.toml", "--out", "run"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("2 evaluated, 0 resumed, 0 failed"));
    for file in ["results.json", "per_consultation.csv", "report.md", "report.html"] {
        assert!(dir.path().join("run").join(file).is_file(), "{file} missing");
    }
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("run/results.json")).unwrap()).unwrap();
    assert!(results.to_string().contains("c20-vaegtkontrol"));

    // Resuming into the same directory evaluates nothing again.
    let again = autonotar(&["--data-dir", "data", "eval", "--corpus", "manifest.toml", "--out", "run"], dir.path());
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("0 evaluated, 2 resumed"), "{}", stderr(&again));
    let compare = autonotar(&["eval", "compare", "run", "run"], dir.path());
    assert!(compare.status.success(), "{}", stderr(&compare));

    // Both runs are in the audit log, which verifies.
    let verify = autonotar(&["--data-dir", "data", "audit", "verify"], dir.path());
    assert!(
        String::from_utf8_lossy(&verify.stdout).starts_with("OK: 2 records"),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// `--stages note` scores the drafter from the reference transcripts of the shipped held-out
/// corpus, whose audio is not rendered: no Whisper, no audio, every consultation scored.
#[test]
fn eval_of_the_note_stage_alone_needs_no_audio() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("no-audio")).unwrap();
    let held_out =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval/corpora/synthetic-da/held-out.toml");
    let corpus = eval::Corpus::load(&held_out).unwrap();
    let args =
        ["--data-dir", "data", "eval", "--corpus", held_out.to_str().unwrap(), "--stages", "note", "--out", "run"];
    let output = autonotar(&[&args[..], &["--audio-dir", "no-audio"]].concat(), dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with(&format!("{} evaluated, 0 resumed, 0 failed", corpus.consultations.len())), "{stdout}");
    assert!(!dir.path().join("run/transcripts").exists(), "nothing was transcribed");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("run/results.json")).unwrap()).unwrap();
    let recall = results["summary"]["fact_recall"].as_f64().expect("fact recall over the corpus");
    assert!(recall > 0.0 && recall < 1.0, "{recall}");
    assert!(results["header"]["pipeline"].as_str().unwrap().contains("from the reference transcripts"));

    let streaming = autonotar(&[&args[..], &["--streaming"]].concat(), dir.path());
    assert!(!streaming.status.success());
    assert!(stderr(&streaming).contains("run it with the asr stage"), "{}", stderr(&streaming));
}

/// `--streaming` on a one-consultation corpus of English espeak audio (Whisper base hears it
/// reliably), given as one file per participant, plus an entry whose audio is missing: the live
/// service in the process hears the replay, the report compares it with offline, and the
/// missing entry fails alone.
#[test]
fn eval_streaming_replays_through_the_live_service_and_compares_with_offline() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        (Role::Doctor, "Good morning. What can I do for you today?", "en-us"),
        (Role::Patient, "I have had a sore throat and a headache for three days.", "en-us+f3"),
        (Role::Doctor, "Please drink plenty of water and call me on Monday.", "en-us"),
    ]
    .map(|(role, text, voice)| (role, text.to_string(), voice.to_string()));
    let stereo = dir.path().join("stereo.wav");
    fixtures::render_lines(&lines, 2, 170, &stereo).unwrap();
    split_channels(&stereo, &[&dir.path().join("en1-doctor.wav"), &dir.path().join("en1-patient.wav")]);
    let reference: String = lines.iter().map(|(role, text, _)| format!("{}: {text}\n", role.danish())).collect();
    std::fs::write(dir.path().join("en1.txt"), reference).unwrap();
    std::fs::write(
        dir.path().join("manifest.toml"),
        r#"name = "english"
language = "en"

[[consultation]]
id = "en1"
tracks = [{ path = "en1-doctor.wav", role = "doctor" }, { path = "en1-patient.wav", role = "patient" }]
reference_transcript = "en1.txt"

[[consultation]]
id = "gone"
audio = "gone.wav"
"#,
    )
    .unwrap();
    // One Whisper thread: on two cores shared with other work it is the faster choice (README).
    // No interim passes: text is committed at pauses only, the fewest decodes for the budget.
    std::fs::write(
        dir.path().join("english.toml"),
        "[asr]\nlanguage = \"en\"\nthreads = 1\n[server]\ninterim_seconds = 0\n",
    )
    .unwrap();

    let speed = 4.0;
    let args = [
        "--config",
        "english.toml",
        "--data-dir",
        "data",
        "eval",
        "--corpus",
        "manifest.toml",
        "--out",
        "run",
        "--streaming",
        "--speed",
        "4",
    ];
    let output = autonotar(&args, dir.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("2 evaluated, 0 resumed, 1 failed"), "{stdout}{}", stderr(&output));
    assert!(!output.status.success(), "a failed consultation makes the exit status non-zero");
    assert!(stderr(&output).contains("failed: gone:"), "{}", stderr(&output));

    let run = dir.path().join("run");
    let streamed = std::fs::read_to_string(run.join("transcripts/en1.json")).unwrap().to_lowercase();
    let offline = std::fs::read_to_string(run.join("transcripts/en1.offline.json")).unwrap().to_lowercase();
    for words in ["sore throat", "three days", "monday"] {
        assert!(streamed.contains(words), "streaming transcript lacks {words:?}: {streamed}");
        assert!(offline.contains(words), "offline transcript lacks {words:?}: {offline}");
    }

    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("results.json")).unwrap()).unwrap();
    assert!(
        results["header"]["pipeline"].as_str().unwrap().contains("replayed at 4x real time"),
        "{}",
        results["header"]
    );
    let en1 = &results["consultations"][0];
    assert_eq!(en1["id"], "en1");
    assert!(en1["error"].is_null(), "{}", en1["error"]);
    let words = &en1["transcription"]["overall"]["words"];
    let streaming = &en1["streaming"];
    let difference = streaming["wer_difference"].as_f64().expect("streaming − offline WER");
    assert!(difference.abs() < 0.5, "the two paths heard very differently: {streaming}");
    assert!(results["summary"]["streaming_vs_offline_wer"].as_f64().is_some(), "{}", results["summary"]);
    assert!(results["summary"]["streaming_wer_difference"]["mean"].as_f64().is_some(), "{}", results["summary"]);
    assert!(words["reference_len"].as_u64().unwrap() >= 25, "{words}");

    // The replay kept its pace, and only finalising after the stop counts as after the hang-up.
    let timing = &en1["speed"];
    let audio = timing["audio_seconds"].as_f64().unwrap();
    let transcribing = timing["transcribe_seconds"].as_f64().unwrap();
    let after_hangup = timing["hangup_to_draft_seconds"].as_f64().unwrap() - timing["draft_seconds"].as_f64().unwrap();
    assert!(transcribing >= audio / speed, "a {audio} s replay at {speed}x took {transcribing} s");
    assert!(after_hangup > 0.0 && after_hangup < transcribing, "after hang-up {after_hangup} s of {transcribing} s");

    let csv = std::fs::read_to_string(run.join("per_consultation.csv")).unwrap();
    let column =
        csv.lines().next().unwrap().split(',').position(|c| c == "streaming_wer_difference").expect("CSV column");
    let row = csv.lines().find(|l| l.starts_with("en1,")).unwrap();
    assert!(row.split(',').nth(column).unwrap().parse::<f64>().is_ok(), "{csv}");
    // The reports show the comparison with its value, not the "–" of a run without it.
    let markdown = std::fs::read_to_string(run.join("report.md")).unwrap();
    let row = markdown.lines().find(|l| l.starts_with("| Streaming vs. offline WER |")).expect("summary row");
    assert!(row.ends_with(" % |"), "{row}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("<td>Streaming vs. offline WER</td><td>")
            && !html.contains("<td>Streaming vs. offline WER</td><td>–"),
        "report.html"
    );
}

/// Writes each channel of a WAV to its own mono file.
fn split_channels(wav: &std::path::Path, outputs: &[&std::path::Path]) {
    let mut reader = hound::WavReader::open(wav).unwrap();
    let spec = hound::WavSpec { channels: 1, ..reader.spec() };
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    for (channel, path) in outputs.iter().enumerate() {
        let mut writer = hound::WavWriter::create(path, spec).unwrap();
        for frame in samples.chunks(outputs.len()) {
            writer.write_sample(frame[channel]).unwrap();
        }
        writer.finalize().unwrap();
    }
}
