//! Transcription metrics: WER and CER after normalisation, overall and per speaker.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use transcript::{Role, Transcript};

use crate::align::{Alignment, EditCounts, align, character_counts};
use danish::normalise;

/// Word and character edit counts of one comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorRates {
    pub words: EditCounts,
    pub characters: EditCounts,
}

impl ErrorRates {
    pub fn wer(&self) -> Option<f64> {
        self.words.rate()
    }

    pub fn cer(&self) -> Option<f64> {
        self.characters.rate()
    }

    pub fn add(&mut self, other: &ErrorRates) {
        self.words.add(&other.words);
        self.characters.add(&other.characters);
    }
}

/// A hypothesis transcript scored against a reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TranscriptionScores {
    pub overall: ErrorRates,
    /// Each speaker's segments in the reference against that speaker's in the hypothesis, so
    /// words attributed to the wrong speaker count as errors here but not in `overall`.
    pub by_speaker: BTreeMap<Role, ErrorRates>,
}

/// The normalised words of a transcript's segments, all of them or one speaker's, in order.
fn words_of(transcript: &Transcript, speaker: Option<Role>) -> Vec<String> {
    transcript
        .segments
        .iter()
        .filter(|s| speaker.is_none_or(|role| s.speaker == role))
        .flat_map(|s| normalise(&s.text))
        .collect()
}

fn rates(reference: &[String], hypothesis: &[String]) -> (ErrorRates, Alignment) {
    let alignment = align(reference, hypothesis);
    let characters = character_counts(&reference.join(" "), &hypothesis.join(" "));
    (ErrorRates { words: alignment.counts, characters }, alignment)
}

/// Scores `hypothesis` against `reference`; returns the overall word alignment too.
pub fn score_transcript(reference: &Transcript, hypothesis: &Transcript) -> (TranscriptionScores, Alignment) {
    let (overall, alignment) = rates(&words_of(reference, None), &words_of(hypothesis, None));
    let mut by_speaker = BTreeMap::new();
    for role in [Role::Doctor, Role::Patient, Role::Other] {
        let (reference_words, hypothesis_words) = (words_of(reference, Some(role)), words_of(hypothesis, Some(role)));
        if !reference_words.is_empty() || !hypothesis_words.is_empty() {
            by_speaker.insert(role, rates(&reference_words, &hypothesis_words).0);
        }
    }
    (TranscriptionScores { overall, by_speaker }, alignment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_case_are_not_errors_but_speakers_are_per_speaker() {
        let reference =
            Transcript::parse_txt("Læge: Har du haft feber?\nPatient: Ja, otteogtredive komma fem.\nLæge: Okay.")
                .unwrap();
        // Same words, but "okay" is attributed to the patient and "haft" is missing.
        let hypothesis = Transcript::parse_txt("Læge: har du feber\nPatient: ja 38,5 okay").unwrap();
        let (scores, alignment) = score_transcript(&reference, &hypothesis);
        // Overall: har du [haft] feber ja 38,5 okay → 1 deletion of 7 words.
        assert_eq!(scores.overall.words, EditCounts { deletions: 1, reference_len: 7, ..EditCounts::default() });
        assert_eq!(alignment.counts, scores.overall.words);
        // Characters: "har du haft feber ja 38,5 okay" (30) vs "har du feber ja 38,5 okay":
        // "haft " is 5 deleted characters.
        assert_eq!(scores.overall.characters.errors(), 5);
        assert_eq!(scores.overall.characters.reference_len, 30);
        // Doctor: har du haft feber okay → har du feber: 2 deletions of 5.
        assert_eq!(scores.by_speaker[&Role::Doctor].wer(), Some(0.4));
        // Patient: ja 38,5 → ja 38,5 okay: 1 insertion of 2.
        assert_eq!(scores.by_speaker[&Role::Patient].wer(), Some(0.5));
        assert!(!scores.by_speaker.contains_key(&Role::Other));
    }
}
