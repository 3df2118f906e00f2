//! The drafter end to end, with the trained classifier on the real ONNX Runtime.
//!
//! The model directory is $AUTONOTAR_MODELS_DIR, else <workspace>/models/cache; it must hold
//! libonnxruntime.so and note-classifier.onnx (`autonotar models fetch` puts them there).

use std::sync::OnceLock;

use fixtures::models_dir;
use note::{Kind, MODEL_FILE, NoteModel, OnnxClassifier, Section};
use transcript::{Role, Segment, Transcript, Word};

fn model() -> &'static OnnxClassifier {
    static MODEL: OnceLock<OnnxClassifier> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = models_dir();
        OnnxClassifier::open(&dir, &dir.join(MODEL_FILE)).unwrap_or_else(|e| {
            panic!(
                "the note tests need the trained classifier and ONNX Runtime in {}: {e}\n\
                 run `autonotar models fetch`, or set AUTONOTAR_MODELS_DIR to a directory holding \
                 libonnxruntime.so and note-classifier.onnx (python3 models/classifier/train.py \
                 --fixtures fixtures/consultations --out DIR)",
                dir.display()
            )
        })
    })
}

fn typed(text: &str) -> Transcript {
    Transcript::parse_txt(text).expect("test transcripts are well formed")
}

fn draft_of(text: &str) -> note::Draft {
    note::draft(&typed(text), model(), fixtures::danish_words()).expect("drafting a typed transcript")
}

fn section_text(draft: &note::Draft, section: Section) -> String {
    draft
        .section(section)
        .map(|s| s.statements.iter().map(|st| st.text.as_str()).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

const SORE_THROAT: &str = "\
Læge: Goddag, det er lægen. Kan du høre mig?
Patient: Ja, fint. Jeg ringer fordi jeg har haft ondt i halsen i fire dage.
Læge: Har du haft feber?
Patient: Ja, i går målte jeg otteogtredive komma fem.
Læge: Har du hoste?
Patient: Nej.
Læge: Er du allergisk over for noget medicin?
Patient: Nej, ikke som jeg ved af.
Læge: Jeg kan se, at mandlerne er hævede og røde med hvidt belæg.
Læge: Det kan være en halsbetændelse med bakterier.
Læge: Du skal have en podning i morgen. Du kan tage paracetamol, to tabletter af fem hundrede milligram op til fire gange i døgnet.
Læge: Vi ses til kontrol om to uger.
Patient: Tak, farvel.
";

#[test]
fn a_sore_throat_consultation_becomes_a_note_with_evidence() {
    let transcript = typed(SORE_THROAT);
    let draft = note::draft(&transcript, model(), fixtures::danish_words()).unwrap();
    let text = draft.to_text();
    assert!(text.starts_with("Videokonsultation.\n"), "{text}");
    let anamnese = section_text(&draft, Section::Anamnese);
    for expected in ["Ondt i halsen i 4 dage.", "Ingen hoste.", "Ingen kendt allergi."] {
        assert!(anamnese.contains(expected), "{expected:?} missing from Anamnese: {text}");
    }
    // A temperature the patient measured is history or a finding, as the classifier judges,
    // and measured at home either way.
    assert!(text.contains("Feber 38,5 målt hjemme.") || text.contains("Temperatur 38,5 målt hjemme."), "{text}");
    assert!(section_text(&draft, Section::Kontaktaarsag).contains("Ondt i halsen."), "{text}");
    let plan = section_text(&draft, Section::Plan);
    for expected in ["Podning i morgen.", "Kontrol om 2 uger."] {
        assert!(plan.contains(expected), "{expected:?} missing from Plan: {text}");
    }
    // A new prescription is Plan or Medicin, as the classifier judges.
    assert!(text.contains("Paracetamol 500 mg, 2 tabletter 4 gange i døgnet."), "{text}");
    assert!(section_text(&draft, Section::Vurdering).contains("halsbetændelse"), "{text}");
    assert!(!text.contains("farvel"), "small talk must stay out: {text}");

    let paracetamol = draft
        .sections
        .iter()
        .flat_map(|s| &s.statements)
        .find(|s| s.kind == Kind::Medication)
        .expect("a medication statement");
    match &paracetamol.values[0] {
        note::Value::Medication { atc, dose, .. } => {
            assert_eq!(atc, "N02BE01");
            assert_eq!(dose.as_deref(), Some("500 mg"));
        }
        other => panic!("expected a medication value, got {other:?}"),
    }
    // Every statement cites segments that exist, and its span covers them.
    for statement in draft.sections.iter().flat_map(|s| &s.statements) {
        assert!(!statement.evidence.segments.is_empty(), "{statement:?}");
        for id in &statement.evidence.segments {
            let segment = &transcript.segments[*id as usize];
            assert!(statement.evidence.start <= segment.start && segment.end <= statement.evidence.end);
        }
        assert!((0.0..=1.0).contains(&statement.confidence));
    }
    assert!(draft.attention.is_empty(), "{text}");
}

#[test]
fn home_measurements_go_to_objektivt() {
    let draft = draft_of(
        "Læge: Hvad har du målt dit blodtryk til?\n\
             Patient: Det ligger på hundrede og femogfyrre over halvfems, og pulsen er toogtres.\n\
             Læge: Og hvad vejer du nu?\n\
             Patient: Jeg vejer fireoghalvfems kilo.\n",
    );
    let objektivt = section_text(&draft, Section::Objektivt);
    for expected in ["Hjemmeblodtryk 145/90.", "Puls 62 målt hjemme.", "Vægt 94 kg målt hjemme."] {
        assert!(objektivt.contains(expected), "{expected:?} missing: {}", draft.to_text());
    }
}

#[test]
fn a_dose_change_goes_to_medicin() {
    let draft = draft_of(
        "Læge: Dit blodtryk er for højt.\n\
             Læge: Så jeg sætter amlodipin op til ti milligram en gang dagligt.\n",
    );
    assert!(
        section_text(&draft, Section::Medicin).contains("Amlodipin øges til 10 mg 1 gang dagligt."),
        "{}",
        draft.to_text()
    );
}

#[test]
fn unsure_recognition_is_marked_in_the_text() {
    let mut transcript = typed(SORE_THROAT);
    let fever = &mut transcript.segments[3];
    fever.confidence = 0.55;
    fever.words = vec![Word { text: " otteogtredive".into(), start: fever.start, end: fever.end, probability: 0.2 }];
    let draft = note::draft(&transcript, model(), fixtures::danish_words()).unwrap();
    assert!(draft.to_text().contains(" 38,5 målt hjemme. [usikkert hørt: otteogtredive]"), "{}", draft.to_text());
}

#[test]
fn an_empty_transcript_gives_an_empty_draft_that_says_so() {
    let draft = note::draft(
        &Transcript { language: "da".into(), duration: 0.0, segments: vec![] },
        model(),
        fixtures::danish_words(),
    )
    .unwrap();
    assert!(draft.sections.is_empty());
    assert!(draft.to_text().contains("Transskriptionen er tom"), "{}", draft.to_text());
}

#[test]
fn small_talk_only_gives_no_sections() {
    let draft = draft_of(
        "Læge: Goddag, kan du høre mig?\n\
             Patient: Ja, nu kan jeg. Billedet hakker lidt.\n\
             Læge: Prøv at flytte tættere på routeren.\n\
             Patient: Sådan. Er det bedre?\n\
             Læge: Ja. Hav en god dag.\n",
    );
    assert!(draft.sections.is_empty(), "{}", draft.to_text());
    assert!(draft.to_text().contains("Intet journalrelevant indhold"), "{}", draft.to_text());
}

#[test]
fn an_english_consultation_is_flagged_not_invented() {
    let draft = draft_of(
        "Læge: Hello, what can I do for you?\n\
             Patient: I have had a sore throat for four days and a fever of thirty eight.\n\
             Læge: Do you have a cough? Is it painful to swallow?\n\
             Patient: No cough, but it hurts when I swallow and my throat is red.\n",
    );
    assert!(draft.to_text().contains("engelsk"), "{}", draft.to_text());
    assert!(draft.sections.is_empty(), "{}", draft.to_text());
    let numbers_invented =
        draft.sections.iter().flat_map(|s| &s.statements).any(|s| s.text.chars().any(|c| c.is_ascii_digit()));
    assert!(!numbers_invented, "{}", draft.to_text());
}

#[test]
fn a_three_hour_transcript_is_drafted() {
    let one = typed(SORE_THROAT);
    let tracks: Vec<Vec<Segment>> = (0..230)
        .map(|round| {
            one.segments
                .iter()
                .map(|s| Segment {
                    start: s.start + f64::from(round) * 47.0,
                    end: s.end + f64::from(round) * 47.0,
                    ..s.clone()
                })
                .collect()
        })
        .collect();
    let long = Transcript::merge("da", 3.0 * 3600.0, tracks);
    assert!(long.segments.len() > 2900);
    let draft = note::draft(&long, model(), fixtures::danish_words()).unwrap();
    // The same statement said 230 times is one statement citing many places, not 230 lines.
    let hoste: Vec<_> =
        draft.sections.iter().flat_map(|s| &s.statements).filter(|s| s.text == "Ingen hoste.").collect();
    assert_eq!(hoste.len(), 1, "{}", draft.to_text());
    assert_eq!(hoste[0].evidence.segments.len(), 2 * 230);
}

#[test]
fn transcript_files_load_by_extension_with_clear_errors() {
    let dir = std::env::temp_dir().join(format!("note-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let txt = dir.join("samtale.txt");
    std::fs::write(&txt, SORE_THROAT).unwrap();
    assert_eq!(note::load_transcript(&txt).unwrap().segments.len(), 13);

    let json = dir.join("samtale.json");
    std::fs::write(&json, typed(SORE_THROAT).to_json()).unwrap();
    let loaded = note::load_transcript(&json).unwrap();
    let texts = |t: &Transcript| t.segments.iter().map(|s| (s.speaker, s.text.clone())).collect::<Vec<_>>();
    assert_eq!(texts(&loaded), texts(&typed(SORE_THROAT)));

    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{ \"language\": \"da\", \"segments\": [ {").unwrap();
    let err = note::load_transcript(&broken).unwrap_err().to_string();
    assert!(err.contains("broken.json") && err.contains("not a valid transcript"), "{err}");

    let err = note::load_transcript(&dir.join("missing.json")).unwrap_err().to_string();
    assert!(err.contains("missing.json"), "{err}");
    let err = note::load_transcript(&dir.join("opkald.wav")).unwrap_err().to_string();
    assert!(err.contains(".json or .txt"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stand-in for a larger model a site might plug in, to show the seam holds and that a model
/// answering for the wrong number of utterances is an error rather than a panic.
struct OneLabelShort;

impl NoteModel for OneLabelShort {
    fn classify(&self, transcript: &Transcript) -> Result<Vec<note::Label>, note::Error> {
        let n = transcript.segments.len().saturating_sub(1);
        Ok(vec![note::Label { section: Some(Section::Anamnese), probability: 1.0 }; n])
    }

    fn name(&self) -> String {
        "one-short".into()
    }
}

#[test]
fn a_model_that_miscounts_is_an_error() {
    let err = note::draft(&typed(SORE_THROAT), &OneLabelShort, fixtures::danish_words()).unwrap_err().to_string();
    assert!(err.contains("12 labels for 13 utterances"), "{err}");
}

#[test]
fn rust_features_through_onnx_reproduce_the_training_script() {
    #[derive(serde::Deserialize)]
    struct Parity {
        heldout_accuracy: f64,
        utterances: Vec<Row>,
    }
    #[derive(serde::Deserialize)]
    struct Row {
        text: String,
        previous: String,
        role: String,
        index: usize,
        count: usize,
        label: String,
        probabilities: Vec<f32>,
    }
    let path = models_dir().join("note-classifier.parity.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (train.py writes it beside the model)", path.display()));
    let parity: Parity = serde_json::from_str(&text).unwrap();
    assert!(!parity.utterances.is_empty(), "the corpus has no held-out utterances");
    let rows: Vec<Vec<f32>> = parity
        .utterances
        .iter()
        .map(|u| {
            let role: Role = u.role.parse().unwrap();
            note::features::features(&u.text, &u.previous, role, u.index, u.count)
        })
        .collect();
    let ours = model().probabilities(&rows).unwrap();
    let mut right = 0;
    for (row, p) in parity.utterances.iter().zip(&ours) {
        for (a, b) in row.probabilities.iter().zip(p) {
            assert!((a - b).abs() < 1e-4, "{:?}: python {:?}, rust {:?}", row.text, row.probabilities, p);
        }
        let best = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        right += usize::from(note::LABELS[best] == row.label);
    }
    let accuracy = right as f64 / parity.utterances.len() as f64;
    assert!((accuracy - parity.heldout_accuracy).abs() < 1e-9, "rust {accuracy}, python {}", parity.heldout_accuracy);
}

#[test]
fn nonsense_input_is_drafted_without_panicking() {
    let hundreds = "hundrede ".repeat(50);
    let lines = [
        format!("Patient: {hundreds} milligram paracetamol, {hundreds} over {hundreds}"),
        "Læge: Har du feber? ??? ... ,,, :".to_string(),
        "Patient: Nej nej nej ikke ingen aldrig.".to_string(),
        "Anden: 🙂 ÆØÅ 99999999999999999999/1 komma komma 38, ,5 ibuprofen ibuprofen mg mg".to_string(),
        format!("Læge: {}", "blodprøve henvisning til ".repeat(200)),
        "Patient: ".to_string() + &"a".repeat(10_000),
    ];
    let draft = draft_of(&lines.join("\n"));
    let _ = (draft.to_text(), draft.to_json());
}

/// Every utterance in one section, as a model sure of itself would label them.
struct AllIn(Section);

impl NoteModel for AllIn {
    fn classify(&self, transcript: &Transcript) -> Result<Vec<note::Label>, note::Error> {
        Ok(vec![note::Label { section: Some(self.0), probability: 1.0 }; transcript.segments.len()])
    }

    fn name(&self) -> String {
        "all-in-one".into()
    }
}

#[test]
fn a_garbled_word_never_enters_the_note_as_heard() {
    // What Whisper made of the demo's "ondt i halsen og næsen" on poorly heard audio.
    let heard = "Læge: Hvad kan jeg hjælpe med?\nPatient: Jeg har haft ont i helsingigthien og nå.\nPatient: Og så har jeg haft feber i tre dage.";
    let draft = note::draft(&typed(heard), &AllIn(Section::Kontaktaarsag), fixtures::danish_words()).unwrap();
    let note = draft.note_text();
    assert!(!note.contains("helsingigthien"), "{note}");
    let flagged = draft.attention.iter().find(|a| a.text.contains("helsingigthien")).expect("listed for the doctor");
    assert!(flagged.reason.contains("«helsingigthien»") && flagged.reason.contains("fejlhørt"), "{}", flagged.reason);
    // Compounds of Danish words, drugs and lab abbreviations are words as heard.
    let plain = "Patient: Mit hjemmeblodtryk var højt, og jeg tager Eliquis.\nLæge: Dit HbA1c og din eGFR er fine.";
    let draft = note::draft(&typed(plain), &AllIn(Section::Anamnese), fixtures::danish_words()).unwrap();
    assert!(draft.attention.iter().all(|a| !a.reason.contains("fejlhørt")), "{:#?}", draft.attention);
    // A name counts where the transcript capitalises it; a garble that happens to be a name in
    // the dictionary ("Sette") does not.
    let named = "Læge: Poul Erik skal komme til kontrol om en uge.\nLæge: Jeg vil du tænke at ikke vil sette din af det at gøre til.";
    let draft = note::draft(&typed(named), &AllIn(Section::Plan), fixtures::danish_words()).unwrap();
    assert!(draft.attention.iter().all(|a| !a.text.contains("Poul")), "{:#?}", draft.attention);
    assert!(draft.attention.iter().any(|a| a.reason.contains("«sette»")), "{:#?}", draft.attention);
    // Nor does one the recogniser capitalised only because it opens a sentence.
    let opening = "Læge: Sette din af det med tabletterne om morgenen og om aftenen.";
    let draft = note::draft(&typed(opening), &AllIn(Section::Plan), fixtures::danish_words()).unwrap();
    assert!(draft.attention.iter().any(|a| a.reason.contains("«Sette»")), "{:#?}", draft.attention);
}
