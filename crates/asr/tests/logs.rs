//! whisper.cpp's log lines reach `tracing` through asr's own hook, and no decoded word does,
//! whatever level the subscriber listens at. Needs the models (`autonotar models fetch`).

use std::sync::{Arc, Mutex};

use fixtures::models_dir;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Every event at every level, as (target, level, message and fields).
#[derive(Clone, Default)]
struct Everything(Arc<Mutex<Vec<(String, tracing::Level, String)>>>);

impl<S: tracing::Subscriber> Layer<S> for Everything {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{value:?} "));
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        let meta = event.metadata();
        self.0.lock().unwrap().push((meta.target().to_string(), *meta.level(), text.0));
    }
}

#[test]
fn whisper_logs_are_forwarded_without_the_words_it_decoded() {
    let lines = Everything::default();
    let _listening = tracing::subscriber::set_default(tracing_subscriber::registry().with(lines.clone()));

    let corpus = fixtures::Consultation::load_all(&fixtures::corpus_dir()).unwrap();
    let consultation = corpus.iter().find(|c| c.id == "c01-ondt-i-halsen").expect("fixture c01");
    let dir = tempfile::tempdir().unwrap();
    let recording = audio::read_wav(&fixtures::render(consultation, dir.path()).unwrap()).unwrap();
    let patient = audio::to_16k(&recording.channels[1], recording.sample_rate).unwrap();
    let options = asr::Options { language: "da".into(), threads: 2, ..asr::Options::default() };
    let recognizer = asr::Recognizer::load(&models_dir().join("ggml-base-q8_0.bin"), options).unwrap();
    let heard: Vec<String> = recognizer
        .recognize(&patient[..patient.len().min(asr::MAX_WINDOW_SAMPLES)])
        .unwrap()
        .iter()
        .flat_map(|r| r.text.split_whitespace().map(transcript::bare_word).collect::<Vec<_>>())
        .filter(|word| word.chars().count() >= 4)
        .collect();
    assert!(!heard.is_empty(), "nothing was recognised");

    let lines = lines.0.lock().unwrap();
    let whisper: Vec<_> = lines.iter().filter(|(target, _, _)| target == "whisper").collect();
    assert!(
        whisper.iter().any(|(_, _, text)| text.contains("n_text_layer")),
        "whisper.cpp's model-loading lines come through asr's hook: {whisper:?}"
    );
    assert!(whisper.iter().all(|(_, level, _)| *level <= tracing::Level::INFO), "{whisper:?}");
    for (target, _, text) in lines.iter() {
        let logged = text.to_lowercase();
        for word in &heard {
            assert!(!logged.contains(word.as_str()), "{target} logged the decoded word {word:?}: {text}");
        }
    }
}
