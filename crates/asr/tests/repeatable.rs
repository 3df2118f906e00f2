//! The same audio gives the same text, whatever was decoded before it: the research harness's
//! runs must be reproducible, and the live path's transcript must equal the offline one.
//! Needs the models (`autonotar models fetch`) in $AUTONOTAR_MODELS_DIR or models/cache.

use fixtures::models_dir;

fn text(recognized: Vec<asr::Recognized>) -> String {
    recognized.into_iter().map(|r| r.text).collect::<Vec<_>>().join(" | ")
}

#[test]
fn a_window_decodes_the_same_after_other_passes() {
    // Whisper base barely understands espeak's Danish, so it falls back to sampling at higher
    // temperatures here: the case where a decoder reused across passes drifts.
    let corpus = fixtures::Consultation::load_all(&fixtures::corpus_dir()).unwrap();
    let consultation = corpus.iter().find(|c| c.id == "c21-covid").expect("fixture c21-covid");
    let dir = tempfile::tempdir().unwrap();
    let recording = audio::read_wav(&fixtures::render(consultation, dir.path()).unwrap()).unwrap();
    let patient = audio::to_16k(&recording.channels[1], recording.sample_rate).unwrap();
    let mut vad = vad::Vad::new(&models_dir(), vad::Params::default()).unwrap();
    let regions = vad::speech_regions(&mut vad, &patient).unwrap();
    let window = asr::pack(&regions)[0].samples(&patient);

    let options = asr::Options { language: "da".into(), threads: 2, ..asr::Options::default() };
    let recognizer = asr::Recognizer::load(&models_dir().join("ggml-base-q8_0.bin"), options).unwrap();
    let first = text(recognizer.recognize(&window).unwrap());
    assert!(!first.is_empty());
    assert_eq!(text(recognizer.recognize(&window).unwrap()), first, "the same window twice");
    recognizer.recognize_pass(&patient[regions[0].clone()], asr::Pass::Utterance).unwrap();
    assert_eq!(text(recognizer.recognize(&window).unwrap()), first, "after an utterance pass");
}
