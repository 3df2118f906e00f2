//! Voice-activity detection: where in a 16 kHz track someone is speaking.
//!
//! Silero VAD (ONNX, run by ONNX Runtime) scores each 32 ms window; a [`SpeechDetector`] turns
//! the scores into speech regions with hysteresis, a minimum length and padding. The model's
//! recurrent state and 64-sample context carry across [`Vad::push`] calls, so a track can be fed
//! in pieces as it arrives and yields the same regions as feeding it whole.

use std::ops::Range;
use std::path::Path;

use onnx::{Session, Tensor};

/// File name of the model inside the models directory.
pub const MODEL_FILE: &str = "silero_vad.onnx";
/// New samples per model call at 16 kHz.
pub const WINDOW: usize = 512;
/// Samples of the previous window the model sees again in front of each new one.
const CONTEXT: usize = 64;
const STATE_LEN: usize = 2 * 128;
const RATE: usize = 16_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Runtime(#[from] onnx::Error),
    #[error("Silero VAD failed on a window: {0}")]
    Inference(String),
}

/// How scores become regions. Defaults follow Silero's `get_speech_timestamps`, with a longer
/// minimum silence so one utterance with a breath in it stays one region.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub threshold: f32,
    /// Speech ends only once the score falls below this (hysteresis against flicker).
    pub neg_threshold: f32,
    pub min_speech: usize,
    pub min_silence: usize,
    /// Added before and after each region so word edges are not clipped.
    pub pad: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params { threshold: 0.5, neg_threshold: 0.35, min_speech: RATE / 4, min_silence: RATE / 2, pad: RATE / 5 }
    }
}

/// Turns per-window speech probabilities into speech regions (sample ranges at 16 kHz).
#[derive(Debug, Clone)]
pub struct SpeechDetector {
    params: Params,
    /// Sample position of the next window.
    position: usize,
    start: Option<usize>,
    /// Where the current silence began, while speech is on.
    silence_since: Option<usize>,
    /// End of the last emitted region, so padding never overlaps it.
    last_end: usize,
}

impl SpeechDetector {
    pub fn new(params: Params) -> SpeechDetector {
        SpeechDetector { params, position: 0, start: None, silence_since: None, last_end: 0 }
    }

    /// Takes the probability of the window that starts at the current position; returns a
    /// region when this window closes one.
    pub fn window(&mut self, probability: f32) -> Option<Range<usize>> {
        let p = self.params;
        let at = self.position;
        self.position += WINDOW;
        if probability >= p.threshold {
            self.silence_since = None;
            if self.start.is_none() {
                self.start = Some(at);
            }
            return None;
        }
        let start = self.start?;
        if probability >= p.neg_threshold {
            return None;
        }
        let since = *self.silence_since.get_or_insert(at);
        if self.position - since < p.min_silence {
            return None;
        }
        self.start = None;
        self.silence_since = None;
        self.close(start, since)
    }

    /// Closes a region still open at the end of the track (`total` samples long).
    pub fn finish(&mut self, total: usize) -> Option<Range<usize>> {
        let start = self.start.take()?;
        let end = self.silence_since.take().unwrap_or(total).min(total);
        self.close(start, end).map(|r| r.start..r.end.min(total))
    }

    /// Where speech is currently open, if it is: the live path must not cut audio there.
    pub fn open_since(&self) -> Option<usize> {
        self.start.map(|s| s.saturating_sub(self.params.pad).max(self.last_end))
    }

    fn close(&mut self, start: usize, end: usize) -> Option<Range<usize>> {
        if end - start < self.params.min_speech {
            return None;
        }
        let region = start.saturating_sub(self.params.pad).max(self.last_end)..end + self.params.pad;
        self.last_end = region.end;
        Some(region)
    }
}

/// Silero VAD over one track, fed in pieces of any size.
pub struct Vad {
    session: Session,
    state: Vec<f32>,
    context: [f32; CONTEXT],
    pending: Vec<f32>,
    detector: SpeechDetector,
}

impl Vad {
    /// Opens `models_dir/silero_vad.onnx` on the ONNX Runtime in `models_dir`.
    pub fn new(models_dir: &Path, params: Params) -> Result<Vad, Error> {
        // One thread: the model is tiny, and the cores belong to Whisper.
        let session = onnx::session(models_dir, &models_dir.join(MODEL_FILE), 1)?;
        Ok(Vad {
            session,
            state: vec![0.0; STATE_LEN],
            context: [0.0; CONTEXT],
            pending: Vec::new(),
            detector: SpeechDetector::new(params),
        })
    }

    /// Feeds samples; returns the speech regions closed by them.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<Range<usize>>, Error> {
        self.pending.extend_from_slice(samples);
        let mut regions = Vec::new();
        let mut consumed = 0;
        while self.pending.len() - consumed >= WINDOW {
            let mut input = Vec::with_capacity(CONTEXT + WINDOW);
            input.extend_from_slice(&self.context);
            input.extend_from_slice(&self.pending[consumed..consumed + WINDOW]);
            let probability = self.score(input)?;
            self.context.copy_from_slice(&self.pending[consumed + WINDOW - CONTEXT..consumed + WINDOW]);
            consumed += WINDOW;
            regions.extend(self.detector.window(probability));
        }
        self.pending.drain(..consumed);
        Ok(regions)
    }

    /// Ends the track after `total` samples, closing a region still open.
    pub fn finish(&mut self, total: usize) -> Option<Range<usize>> {
        self.detector.finish(total)
    }

    pub fn detector(&self) -> &SpeechDetector {
        &self.detector
    }

    fn score(&mut self, input: Vec<f32>) -> Result<f32, Error> {
        let fail = |e: onnx::ort::Error| Error::Inference(e.to_string());
        let input = Tensor::from_array(([1usize, CONTEXT + WINDOW], input)).map_err(fail)?;
        let state = Tensor::from_array(([2usize, 1, 128], std::mem::take(&mut self.state))).map_err(fail)?;
        let rate = Tensor::from_array(((), vec![RATE as i64])).map_err(fail)?;
        let outputs =
            self.session.run(onnx::ort::inputs!["input" => input, "state" => state, "sr" => rate]).map_err(fail)?;
        let (_, probability) = outputs["output"].try_extract_tensor::<f32>().map_err(fail)?;
        let (_, state) = outputs["stateN"].try_extract_tensor::<f32>().map_err(fail)?;
        self.state = state.to_vec();
        probability.first().copied().ok_or_else(|| Error::Inference("empty output".into()))
    }
}

/// All speech regions of a whole track.
pub fn speech_regions(vad: &mut Vad, samples: &[f32]) -> Result<Vec<Range<usize>>, Error> {
    let mut regions = vad.push(samples)?;
    regions.extend(vad.finish(samples.len()));
    Ok(regions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(probabilities: &[f32]) -> Vec<Range<usize>> {
        let mut d = SpeechDetector::new(Params::default());
        let mut out: Vec<_> = probabilities.iter().filter_map(|&p| d.window(p)).collect();
        out.extend(d.finish(probabilities.len() * WINDOW));
        out
    }

    #[test]
    fn a_short_breath_does_not_split_an_utterance() {
        // 1 s speech, 5 windows (160 ms) of silence, 1 s speech, then long silence.
        let mut p = vec![0.9; 31];
        p.extend([0.1; 5]);
        p.extend([0.9; 31]);
        p.extend([0.0; 40]);
        let regions = run(&p);
        assert_eq!(regions.len(), 1, "{regions:?}");
        assert_eq!(regions[0].start, 0);
        assert_eq!(regions[0].end, 67 * WINDOW + Params::default().pad);
    }

    #[test]
    fn a_long_pause_splits_and_padding_never_overlaps() {
        let mut p = vec![0.0; 10];
        p.extend([0.9; 20]);
        p.extend([0.0; 20]);
        p.extend([0.9; 20]);
        let regions = run(&p);
        assert_eq!(regions.len(), 2, "{regions:?}");
        assert_eq!(regions[0].start, 10 * WINDOW - Params::default().pad);
        assert!(regions[0].end <= regions[1].start);
        assert_eq!(regions[1].end, 70 * WINDOW, "the last region ends at the track's end");
    }

    #[test]
    fn clicks_shorter_than_min_speech_are_ignored_and_hysteresis_holds() {
        assert!(
            run(&[0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
                .is_empty()
        );
        // Scores between the two thresholds keep speech on.
        let mut p = vec![0.9; 10];
        p.extend([0.4; 30]);
        p.extend([0.0; 20]);
        assert_eq!(run(&p)[0].end, 40 * WINDOW + Params::default().pad);
    }
}
