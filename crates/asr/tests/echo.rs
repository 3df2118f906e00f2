//! Echo between tracks, measured with the real Whisper: a consultation whose doctor track also
//! carries the patient's audio, attenuated by 15 dB and delayed by 80 ms (the speakers heard by
//! the doctor's microphone), gives the same segments as the clean recording.
//! Needs the models (`autonotar models fetch`) in $AUTONOTAR_MODELS_DIR or models/cache.

use fixtures::models_dir;
use transcript::Role;

const ATTENUATION_DB: f32 = -15.0;
const DELAY_SECONDS: f64 = 0.080;

/// Each speaker's words in order, lowercased, without punctuation.
fn said(transcript: &transcript::Transcript) -> Vec<(Role, Vec<String>)> {
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
    };
    [Role::Doctor, Role::Patient]
        .map(|role| {
            let text: Vec<&str> =
                transcript.segments.iter().filter(|s| s.speaker == role).map(|s| s.text.as_str()).collect();
            (role, words(&text.join(" ")))
        })
        .into()
}

#[test]
fn the_patient_heard_through_the_doctor_microphone_stays_on_the_patient_track() {
    let lines = [
        (Role::Doctor, "Good morning. What brings you here today?"),
        (Role::Patient, "I have had a sore throat and a headache for three days."),
        (Role::Doctor, "Do you have a fever or a cough?"),
        (Role::Patient, "No fever, but I cough at night and I sleep badly."),
        (Role::Doctor, "Please drink plenty of water and call me on Monday."),
    ];
    let lines = lines.map(|(role, text)| {
        (role, text.to_string(), if role == Role::Doctor { "en-us" } else { "en-us+f3" }.to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("call.wav");
    fixtures::render_lines(&lines, 2, 150, &wav).unwrap();
    let recording = audio::read_wav(&wav).unwrap();
    let (doctor, patient) = (recording.channels[0].clone(), recording.channels[1].clone());

    let gain = 10f32.powf(ATTENUATION_DB / 20.0);
    let delay = (DELAY_SECONDS * audio::TARGET_RATE as f64) as usize;
    let mut echoed = doctor.clone();
    for (i, sample) in echoed.iter_mut().enumerate().skip(delay) {
        *sample = (*sample + gain * patient[i - delay]).clamp(-1.0, 1.0);
    }

    let options = asr::Options { language: "en".into(), threads: 2, ..asr::Options::default() };
    let recognizer = asr::Recognizer::load(&models_dir().join("ggml-base-q8_0.bin"), options).unwrap();
    let transcribe = |doctor: &[f32]| {
        let tracks = [
            asr::Track { role: Role::Doctor, samples: doctor.to_vec() },
            asr::Track { role: Role::Patient, samples: patient.clone() },
        ];
        asr::transcribe(&tracks, &models_dir(), &recognizer, &mut |_, _| {}).unwrap()
    };
    let clean = transcribe(&doctor);
    let with_echo = transcribe(&echoed);
    assert!(said(&clean)[0].1.len() >= 15, "the clean doctor track: {:?}", said(&clean));
    assert_eq!(said(&with_echo), said(&clean), "with the echo on the doctor's track");

    // The echo was there to be removed: the doctor track alone, as Whisper hears it, repeats the patient.
    let doctor_only = [asr::Track { role: Role::Doctor, samples: echoed }];
    let heard = asr::transcribe(&doctor_only, &models_dir(), &recognizer, &mut |_, _| {}).unwrap();
    let heard_text = heard.segments.iter().map(|s| s.text.to_lowercase()).collect::<String>();
    assert!(
        heard_text.contains("throat") || heard_text.contains("night"),
        "the doctor's microphone heard: {heard_text}"
    );
}
