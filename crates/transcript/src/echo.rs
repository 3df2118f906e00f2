//! Echo between tracks: without a headset the doctor's microphone also hears the patient from
//! the speakers, so the patient's words come back on the doctor's track a moment later. A run of
//! words on a doctor track that another track said at the same moment is
//! that echo: the words are taken out there and stay only on the track of the one who said them.
//! Compared word by word (with Whisper's word times), since one decoding window can hold the
//! doctor's own words and the echo in one segment.
//!
//! Both the offline transcription and the live service's kept transcript run their per-track
//! segments through [`remove_echo`] before merging, so the two stay the same transcript.

use crate::{Role, Segment, Word, bare_word};

/// How far a repeated word's start may lie from the original's: the speaker-to-microphone delay
/// (tens of milliseconds) plus the recogniser's word timing on two separately decoded tracks. A
/// doctor who repeats the patient's words back does so after the patient, beyond this.
const ALIGNED_SECONDS: f64 = 0.6;
/// Share of the doctor-track words over an utterance of the other track that must repeat it for
/// all of them to be taken as its echo (Whisper garbles some words of a quiet echo). Below it the
/// doctor is speaking over the patient, and the words are kept.
const REPEATED_SHARE: f64 = 0.5;

/// One utterance of a non-doctor track: its span and its words with their start times.
struct Heard {
    start: f64,
    end: f64,
    words: Vec<(f64, String)>,
}

/// Takes out of every doctor-track segment the words that repeat, at the same moment, an
/// utterance of a non-doctor track; a segment left without words goes. Returns how many words
/// were taken out.
pub fn remove_echo(tracks: &mut [Vec<Segment>]) -> usize {
    let heard: Vec<Heard> = tracks.iter().flatten().filter_map(Heard::of).collect();
    if heard.is_empty() {
        return 0;
    }
    let mut removed = 0;
    for track in tracks.iter_mut() {
        for segment in track.iter_mut().filter(|segment| segment.speaker == Role::Doctor) {
            removed += take_out(segment, &heard);
        }
        track.retain(|segment| segment.speaker != Role::Doctor || !segment.text.is_empty());
    }
    removed
}

/// As [`remove_echo`], for one doctor-track segment as it is committed during a call, against the
/// other tracks' segments committed so far. Returns how many words were taken out; a segment left
/// with no text is all echo.
pub fn take_out_echo<'a>(segment: &mut Segment, others: impl IntoIterator<Item = &'a Segment>) -> usize {
    let near =
        |other: &&Segment| other.end >= segment.start - ALIGNED_SECONDS && other.start <= segment.end + ALIGNED_SECONDS;
    let heard: Vec<Heard> = others.into_iter().filter(near).filter_map(Heard::of).collect();
    take_out(segment, &heard)
}

impl Heard {
    /// What a non-doctor segment said, if it has words.
    fn of(segment: &Segment) -> Option<Heard> {
        (segment.speaker != Role::Doctor && !segment.words.is_empty()).then(|| Heard {
            start: segment.start,
            end: segment.end,
            words: segment.words.iter().map(|word| (word.start, bare_word(&word.text))).collect(),
        })
    }
}

/// Removes the echoed words from `segment`, rebuilding its text and times from the words left.
fn take_out(segment: &mut Segment, heard: &[Heard]) -> usize {
    let mut drop = vec![false; segment.words.len()];
    for utterance in heard {
        let over: Vec<usize> = (0..segment.words.len())
            .filter(|&i| {
                let start = segment.words[i].start;
                start >= utterance.start - ALIGNED_SECONDS && start <= utterance.end + ALIGNED_SECONDS
            })
            .collect();
        let repeated = over
            .iter()
            .filter(|&&i| {
                let (start, said) = (segment.words[i].start, bare_word(&segment.words[i].text));
                utterance.words.iter().any(|(at, word)| *word == said && (at - start).abs() <= ALIGNED_SECONDS)
            })
            .count();
        if repeated >= 2 && repeated as f64 >= REPEATED_SHARE * over.len() as f64 {
            over.iter().for_each(|&i| drop[i] = true);
        }
    }
    let removed = drop.iter().filter(|d| **d).count();
    if removed == 0 {
        return 0;
    }
    let kept: Vec<Word> = segment.words.drain(..).zip(drop).filter(|(_, drop)| !drop).map(|(word, _)| word).collect();
    segment.text = kept.iter().map(|word| word.text.as_str()).collect::<Vec<_>>().join(" ");
    if let (Some(first), Some(last)) = (kept.first(), kept.last()) {
        segment.start = first.start;
        segment.end = last.end.max(first.start);
    }
    segment.words = kept;
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment whose words are spread evenly over `start..end`.
    fn segment(speaker: Role, start: f64, end: f64, text: &str) -> Segment {
        let track = if speaker == Role::Doctor { 0 } else { 1 };
        let texts: Vec<&str> = text.split_whitespace().collect();
        let step = (end - start) / texts.len() as f64;
        let words = texts
            .iter()
            .enumerate()
            .map(|(i, word)| Word {
                text: (*word).into(),
                start: start + i as f64 * step,
                end: start + (i + 1) as f64 * step,
                probability: 0.9,
            })
            .collect();
        Segment { id: 0, speaker, track, start, end, text: text.into(), confidence: 0.9, words }
    }

    #[test]
    fn the_patient_heard_again_on_the_doctor_track_is_taken_out() {
        let patient = "Jeg har haft ondt i halsen i tre dage.";
        let mut tracks = vec![
            vec![
                // One decoding window: the doctor's question, then the echo 80 ms behind the patient.
                segment(Role::Doctor, 0.0, 2.0, "Hvad kan jeg hjælpe med?"),
                segment(Role::Doctor, 2.58, 5.08, patient),
            ],
            vec![segment(Role::Patient, 2.5, 5.0, patient)],
        ];
        assert_eq!(remove_echo(&mut tracks), 9);
        assert_eq!(tracks[0].len(), 1);
        assert_eq!(tracks[0][0].text, "Hvad kan jeg hjælpe med?");
        assert_eq!(tracks[1][0].text, patient, "the patient keeps their words");

        let (question, echo) =
            (segment(Role::Doctor, 0.0, 2.0, "Hvad kan jeg hjælpe med?"), segment(Role::Doctor, 2.58, 5.08, patient));
        let mut together = question.clone();
        together.text = format!("{} {patient}", question.text);
        together.end = echo.end;
        together.words.extend(echo.words);
        let mut mixed = vec![vec![together], vec![segment(Role::Patient, 2.5, 5.0, patient)]];
        remove_echo(&mut mixed);
        assert_eq!(mixed[0][0].text, "Hvad kan jeg hjælpe med?");
        assert_eq!((mixed[0][0].start, mixed[0][0].end), (0.0, 2.0));
    }

    #[test]
    fn the_doctor_repeating_the_patient_afterwards_or_talking_over_them_is_kept() {
        let mut tracks = vec![
            vec![
                // Mirrors the patient's words once they have finished.
                segment(Role::Doctor, 5.6, 7.2, "Ondt i halsen i tre dage?"),
                // Speaks over the patient: a word or two in common at the same time.
                segment(Role::Doctor, 2.4, 5.2, "Har du haft feber og hoste om natten?"),
            ],
            vec![segment(Role::Patient, 2.5, 5.0, "Jeg har haft ondt i halsen i tre dage.")],
        ];
        assert_eq!(remove_echo(&mut tracks), 0);
        assert_eq!(tracks[0].len(), 2);
    }

    #[test]
    fn a_segment_committed_during_the_call_is_checked_against_what_the_patient_said_so_far() {
        let patient = segment(Role::Patient, 2.5, 5.0, "Jeg har haft ondt i halsen i tre dage.");
        let mut echo = segment(Role::Doctor, 2.58, 5.08, "Jeg har haft ondt i halsen i tre dage.");
        assert_eq!(take_out_echo(&mut echo, [&patient]), 9);
        assert!(echo.text.is_empty());
        let mut own = segment(Role::Doctor, 0.0, 2.0, "Hvad kan jeg hjælpe med?");
        assert_eq!(take_out_echo(&mut own, [&patient]), 0);
    }

    #[test]
    fn without_another_track_nothing_is_echo() {
        let mut tracks = vec![vec![segment(Role::Doctor, 0.0, 1.0, "Godmorgen.")]];
        assert_eq!(remove_echo(&mut tracks), 0);
    }
}
