//! The initial prompt a site configures: its vocabulary goes in whole words, only as far as
//! Whisper's prompt budget holds, and a prompt that cannot fit is refused at load.

use fixtures::models_dir;

fn load(options: asr::Options) -> Result<asr::Recognizer, asr::Error> {
    asr::Recognizer::load(&models_dir().join("ggml-base-q8_0.bin"), options)
}

#[test]
fn a_long_vocabulary_is_cut_at_a_word_within_the_budget() {
    let vocabulary: Vec<String> = (0..400).map(|i| format!("præparat{i}")).collect();
    let options = asr::Options {
        initial_prompt: Some("Videokonsultation.".into()),
        vocabulary: vocabulary.clone(),
        ..asr::Options::default()
    };
    let recognizer = load(options).unwrap();
    let prompt = recognizer.prompt().unwrap();
    assert!(prompt.starts_with("Videokonsultation. præparat0, præparat1, "), "{prompt}");
    let listed: Vec<&str> = prompt["Videokonsultation. ".len()..].split(", ").collect();
    assert!(listed.len() > 20 && listed.len() < vocabulary.len(), "{} words", listed.len());
    // Whole words, in order: the last one listed is a whole vocabulary entry.
    assert_eq!(listed, vocabulary[..listed.len()].iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn a_prompt_beyond_the_budget_or_with_a_nul_is_refused() {
    let long = "ord ".repeat(400);
    let err = load(asr::Options { initial_prompt: Some(long), ..asr::Options::default() }).err().unwrap();
    assert!(err.to_string().contains("Whisper reads at most 223"), "{err}");
    let nul = asr::Options { vocabulary: vec!["a\0b".into()], ..asr::Options::default() };
    assert!(matches!(load(nul), Err(asr::Error::PromptNul)));
    let language = asr::Options { language: "d\0a".into(), ..asr::Options::default() };
    assert!(matches!(load(language), Err(asr::Error::UnknownLanguage(_))));
}
