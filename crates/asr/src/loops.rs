//! Repetition loops out of what Whisper returns.
//!
//! On audio it hears badly, Whisper can fall into a loop: the same sentence four times in a
//! row, within one segment or as consecutive segments. whisper.cpp's own guard (the entropy
//! threshold with temperature fallback, what faster-whisper does with the compression ratio)
//! catches many but not all, and the utterance passes run without fallback. What is left is
//! taken out here, for every pass, so the kept transcript, the text shown live and the offline
//! transcript all lose the same repeats: a run of at least [`MIN_RUN`] words said again right
//! after itself is kept once.

use transcript::{Word, bare_word};

use crate::Recognized;

/// Shortest run of words whose immediate repeat counts as a loop: "ja ja" and "nej nej nej"
/// are speech, a whole clause said twice in a row is not.
pub(crate) const MIN_RUN: usize = 3;

/// `segments` with every immediately repeated run of [`MIN_RUN`] or more words kept once,
/// within a segment and across consecutive segments (a segment that only repeats the one
/// before it goes).
pub(crate) fn without_loops(segments: Vec<Recognized>) -> Vec<Recognized> {
    let mut kept: Vec<Recognized> = Vec::with_capacity(segments.len());
    for mut segment in segments {
        collapse_repeats(&mut segment);
        let repeats_previous = kept.last().is_some_and(|previous| {
            let (a, b) = (bare_words(previous), bare_words(&segment));
            b.len() >= MIN_RUN && a.ends_with(&b)
        });
        if !repeats_previous {
            kept.push(segment);
        }
    }
    kept
}

/// The segment's words as compared; from its text when it has no word timings.
fn bare_words(segment: &Recognized) -> Vec<String> {
    if segment.words.is_empty() {
        segment.text.split_whitespace().map(bare_word).filter(|w| !w.is_empty()).collect()
    } else {
        segment.words.iter().map(|w| bare_word(&w.text)).filter(|w| !w.is_empty()).collect()
    }
}

fn collapse_repeats(segment: &mut Recognized) {
    if segment.words.is_empty() {
        let mut words: Vec<String> = segment.text.split_whitespace().map(str::to_string).collect();
        if remove_repeats(&mut words, |w| bare_word(w)) {
            segment.text = words.join(" ");
        }
    } else if remove_repeats(&mut segment.words, |w: &Word| bare_word(&w.text)) {
        segment.text = segment.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        segment.end = segment.words.last().map_or(segment.end, |w| w.end);
    }
}

/// Removes, until none is left, the second copy of any run of at least [`MIN_RUN`] items that
/// follows itself immediately (shortest runs first). Returns whether anything was removed.
fn remove_repeats<T>(items: &mut Vec<T>, key: impl Fn(&T) -> String) -> bool {
    let mut removed = false;
    'again: loop {
        let keys: Vec<String> = items.iter().map(&key).collect();
        for run in MIN_RUN..=keys.len() / 2 {
            for start in 0..=keys.len() - 2 * run {
                if keys[start..start + run] == keys[start + run..start + 2 * run]
                    && keys[start..start + run].iter().all(|k| !k.is_empty())
                {
                    items.drain(start + run..start + 2 * run);
                    removed = true;
                    continue 'again;
                }
            }
        }
        return removed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(text: &str, start: f64) -> Recognized {
        let words: Vec<Word> = text
            .split(' ')
            .enumerate()
            .map(|(i, w)| Word {
                text: w.into(),
                start: start + i as f64,
                end: start + i as f64 + 0.5,
                probability: 0.9,
            })
            .collect();
        let end = words.last().map_or(start, |w| w.end);
        Recognized { start, end, text: text.into(), confidence: 0.9, words }
    }

    fn texts(segments: &[Recognized]) -> Vec<&str> {
        segments.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn a_sentence_said_four_times_in_a_row_is_kept_once() {
        let looped = "Jeg har ondt i halsen. Jeg har ondt i halsen. Jeg har ondt i halsen. Jeg har ondt i halsen.";
        let kept = without_loops(vec![segment(looped, 0.0)]);
        assert_eq!(texts(&kept), ["Jeg har ondt i halsen."]);
        assert_eq!(kept[0].words.len(), 5);
        assert_eq!(kept[0].end, 4.5, "the segment ends with its last kept word");
    }

    #[test]
    fn a_segment_that_only_repeats_the_previous_one_goes() {
        let kept = without_loops(vec![
            segment("Og så tager du to tabletter.", 0.0),
            segment("Og så tager du to tabletter.", 6.0),
            segment("to tabletter om dagen.", 12.0),
        ]);
        assert_eq!(texts(&kept), ["Og så tager du to tabletter.", "to tabletter om dagen."]);
    }

    #[test]
    fn ordinary_speech_is_left_alone() {
        for text in ["Nej nej nej, det gør ikke ondt.", "Ja. Ja.", "to, tre gange om dagen, tre gange", "Hej"] {
            assert_eq!(texts(&without_loops(vec![segment(text, 0.0)])), [text]);
        }
        let without_timings =
            Recognized { start: 0.0, end: 3.0, text: "godt godt godt".into(), confidence: 1.0, words: vec![] };
        assert_eq!(texts(&without_loops(vec![without_timings])), ["godt godt godt"]);
    }
}
