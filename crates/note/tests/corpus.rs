//! Every consultation of the shipped corpus drafts into a note with nothing unsupported.
//!
//! Needs the trained classifier and ONNX Runtime in $AUTONOTAR_MODELS_DIR, else
//! <workspace>/models/cache (`autonotar models fetch`).

use fixtures::Consultation;
use note::{MODEL_FILE, OnnxClassifier};

#[test]
fn the_corpus_drafts_with_every_statement_supported_by_what_was_said() {
    let dir = fixtures::models_dir();
    let model = OnnxClassifier::open(&dir, &dir.join(MODEL_FILE)).unwrap_or_else(|e| {
        panic!("the note tests need the trained classifier in {} ({e}): run `autonotar models fetch`", dir.display())
    });
    let consultations = Consultation::load_all(&fixtures::corpus_dir()).expect("the shipped corpus loads");
    assert!(consultations.len() >= 40, "the corpus has {} consultations", consultations.len());
    for consultation in &consultations {
        let transcript = consultation.transcript();
        let draft = note::draft(&transcript, &model, fixtures::danish_words()).unwrap();
        assert!(draft.header.starts_with("Videokonsultation"), "{}: {}", consultation.id, draft.header);
        assert!(!draft.sections.is_empty(), "{}: empty draft\n{}", consultation.id, draft.to_text());
        let unsupported = draft.unsupported(&transcript);
        assert!(unsupported.is_empty(), "{}: unsupported {unsupported:?}", consultation.id);
    }
}
