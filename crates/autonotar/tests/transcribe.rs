//! `autonotar transcribe` end to end: real WAV files, real Silero VAD, real Whisper base.

mod common;

use std::path::Path;

use common::{autonotar, stderr};
use transcript::{Role, Transcript};

fn transcribe_json(wav: &Path, extra: &[&str], dir: &Path) -> Transcript {
    let mut args = vec!["transcribe", wav.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let output = autonotar(&args, dir);
    assert!(output.status.success(), "transcribe failed: {}", stderr(&output));
    Transcript::from_json(&String::from_utf8(output.stdout).unwrap()).unwrap()
}

fn assert_sane_times(t: &Transcript) {
    assert!(t.segments.windows(2).all(|w| w[0].start <= w[1].start), "segments out of time order");
    for s in &t.segments {
        assert!(
            0.0 <= s.start && s.start <= s.end && s.end <= t.duration + 0.5,
            "segment {s:?} outside 0..{}",
            t.duration
        );
        assert!((0.0..=1.0).contains(&s.confidence));
    }
}

#[test]
fn english_stereo_comes_back_word_for_word_with_the_right_speakers() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("english.wav");
    let lines = [
        (Role::Doctor, "Good morning. What can I do for you today?", "en-us"),
        (Role::Patient, "I have had a sore throat and a headache for three days.", "en-us+f3"),
        (Role::Doctor, "Please drink plenty of water and call me on Monday.", "en-us"),
    ]
    .map(|(r, t, v)| (r, t.to_string(), v.to_string()));
    // Words Whisper base hears through espeak's voice: faster-whisper on the same weights mishears
    // "fever" and "paracetamol" from it exactly as whisper.cpp does.
    let timings = fixtures::render_lines(&lines, 2, 150, &wav).unwrap();
    let t = transcribe_json(&wav, &["--language", "en"], dir.path());
    assert_sane_times(&t);
    let said_by = |role: Role| -> String {
        t.segments.iter().filter(|s| s.speaker == role).map(|s| s.text.to_lowercase()).collect::<Vec<_>>().join(" ")
    };
    let (doctor, patient) = (said_by(Role::Doctor), said_by(Role::Patient));
    for word in ["morning", "today", "water", "monday"] {
        assert!(doctor.contains(word), "doctor lacks {word:?}: {doctor}");
    }
    for word in ["sore throat", "three days"] {
        assert!(patient.contains(word), "patient lacks {word:?}: {patient}");
    }
    // The patient's segment sits where the patient spoke, between the doctor's two lines.
    let patient_segment = t.segments.iter().find(|s| s.speaker == Role::Patient).unwrap();
    assert!(
        (patient_segment.start - timings[1].start).abs() < 1.0,
        "{} vs {}",
        patient_segment.start,
        timings[1].start
    );
    assert_eq!(t.segments.first().unwrap().speaker, Role::Doctor);
    assert_eq!(t.segments.last().unwrap().speaker, Role::Doctor);
}

#[test]
fn a_danish_fixture_consultation_gives_danish_text_per_speaker_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let consultation = fixtures::Consultation::load(&fixtures::corpus_dir().join("c01-ondt-i-halsen.toml")).unwrap();
    let wav = fixtures::render(&consultation, dir.path()).unwrap();
    let t = transcribe_json(&wav, &[], dir.path());
    assert_eq!(t.language, "da");
    assert_sane_times(&t);
    let words: usize = t.segments.iter().map(|s| s.text.split_whitespace().count()).sum();
    assert!(words >= 20, "only {words} words from a 90 s consultation");
    // espeak's Danish is barely intelligible to Whisper base, so no content words are asserted;
    // segments are attributed to the channel they came from.
    assert!(t.segments.iter().all(|s| s.track == if s.speaker == Role::Doctor { 0 } else { 1 }));
}

#[test]
fn real_danish_speech_gives_danish_text() {
    let dir = tempfile::tempdir().unwrap();
    let clips = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/speech/nst-da");
    let mut names: Vec<_> = std::fs::read_dir(&clips)
        .unwrap_or_else(|e| panic!("{}: {e} (the Danish clips of fixtures/speech/nst-da)", clips.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 13);
    // All clips in one mono stream, a second of silence between them: one speaker per clip.
    let wav = dir.path().join("nst.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&wav, spec).unwrap();
    for name in &names {
        let mut reader = hound::WavReader::open(name).unwrap();
        let channels = reader.spec().channels as usize;
        for s in reader.samples::<i16>().step_by(channels) {
            writer.write_sample(s.unwrap()).unwrap();
        }
        (0..16000).for_each(|_| writer.write_sample(0i16).unwrap());
    }
    writer.finalize().unwrap();
    let t = transcribe_json(&wav, &[], dir.path());
    assert_sane_times(&t);
    let text: String = t.segments.iter().map(|s| s.text.to_lowercase() + " ").collect();
    let danish = ["og", "en", "er", "det", "med", "af", "i", "på", "til", "at", "den", "har"];
    let hits = text.split(|c: char| !c.is_alphabetic()).filter(|w| danish.contains(w)).count();
    assert!(hits >= 10, "too few common Danish words ({hits}) in: {text}");
    assert!(t.duration > 80.0);
}

#[test]
fn silence_gives_an_empty_transcript_and_success() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("silence.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&wav, spec).unwrap();
    (0..2 * 48000 * 5).for_each(|_| writer.write_sample(0i16).unwrap());
    writer.finalize().unwrap();
    let t = transcribe_json(&wav, &[], dir.path());
    assert!(t.segments.is_empty(), "{:?}", t.segments);
    assert!((t.duration - 5.0).abs() < 0.01);
}
