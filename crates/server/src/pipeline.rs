//! One track's streaming transcription: resampling → Silero VAD → Whisper, in two layers.
//!
//! **What the doctor sees during the call.** A speech region is decoded on its own, cheaply
//! ([`asr::Pass::Utterance`]), as soon as the VAD closes it, and that text is committed. While a
//! region is still open (someone speaks at length) interim passes over it run when the Whisper
//! decoder has a core to spare, and LocalAgreement-2 (as in ufal/whisper_streaming) commits the
//! words two successive passes agree on, and any word a pass heard [`SETTLED_AFTER`] before its
//! end; the rest is shown as partial text. An open region that
//! grows past [`FORCE_CUT`] is committed up to its last words and decoding restarts there.
//!
//! **What the transcript keeps.** The closed regions are also packed into windows of up to 28 s
//! with [`asr::Packer`], the very code the offline path packs with, and each window is decoded
//! whole ([`asr::Pass::Window`]) once it is complete: the same audio, cut the same way, as
//! `autonotar transcribe` decodes, with the context of the neighbouring speech that Whisper
//! needs to hear Danish well. The transcript at hang-up is made of these passes, so it is the
//! offline transcript, paid for while the call goes on. Passes over a window that is still
//! filling run when a core is spare, so that at hang-up usually nothing is left to decode; the
//! passes still missing at hang-up go first ([`Priority::Final`]).

use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

use tokio::task::JoinHandle;
use transcript::{Role, Segment, Word, bare_word};

use crate::decode::{Decoder, Priority, Speaking, Urgency};
use crate::protocol::Piece;

const RATE: usize = audio::TARGET_RATE as usize;
/// An open region this long (s) is committed up to its last words: Whisper sees at most 30 s.
const FORCE_CUT: f64 = 24.0;
/// Interim passes start once a region has this much speech (s). LocalAgreement commits a word
/// only when a second pass agrees, so a sentence's first words wait for two passes: starting at
/// 2 s, they trailed the speech by 3 s and more, the slowest commits of a consultation.
const INTERIM_AFTER: f64 = 1.0;
/// A word that ends this long (s) before the audio an interim pass heard is committed even when
/// the pass before heard it differently. Whisper seldom changes a word with a second of speech
/// after it, but it can flip between two spellings of one word from pass to pass, and waiting
/// for two passes to agree then left a word uncommitted for 3-4 s, the slowest commits of a call.
const SETTLED_AFTER: f64 = 1.0;
/// Audio kept before the VAD's current position while nobody speaks: room for the padding a
/// region gets in front when speech starts.
const KEEP_WHEN_SILENT: usize = RATE;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Audio(#[from] audio::Error),
    #[error(transparent)]
    Vad(#[from] vad::Error),
    #[error("speech recognition failed: {0}")]
    Recognition(String),
}

/// What a track produces as audio goes in.
#[derive(Debug, Clone)]
pub enum Output {
    /// Final text; `latency` is seconds from the arrival of its last audio to now.
    Committed {
        segment: Segment,
        latency: f64,
    },
    Partial(Piece),
}

/// A track at its end: the last text to show, and the transcript to keep.
pub struct Finished {
    pub outputs: Vec<Output>,
    pub segments: Vec<Segment>,
}

/// A window pass under way, with the urgency the track may raise while it waits.
struct WindowPass {
    task: JoinHandle<Result<Vec<Segment>, Error>>,
    urgency: Urgency,
}

fn joined<T>(result: Result<Result<T, Error>, tokio::task::JoinError>) -> Result<T, Error> {
    result.map_err(|e| Error::Recognition(format!("a window pass crashed: {e}")))?
}

pub struct TrackPipeline {
    index: usize,
    role: Role,
    resampler: audio::Resampler,
    vad: vad::Vad,
    /// 16 kHz audio from sample `buffer_start` of the track to `total`.
    buffer: Vec<f32>,
    buffer_start: usize,
    total: usize,
    /// When each stretch of 16 kHz audio arrived: (track sample it ends at, instant).
    arrivals: VecDeque<(usize, Instant)>,
    /// Held while the VAD hears speech on this track.
    speaking: Option<Speaking>,

    // What is shown.
    /// Nothing before this sample is decoded again for showing.
    decode_from: usize,
    /// Track time (s) up to which words are committed.
    committed_until: f64,
    /// The words committed since `decode_from`, normalised: a pass from there says them again.
    shown_since_from: Vec<String>,
    /// The previous interim pass's uncommitted words.
    hypothesis: Vec<Word>,
    last_interim: usize,
    interim_every: usize,

    // What is kept.
    packer: asr::Packer,
    /// Speech up to this sample has been handed to the packer.
    packed_until: usize,
    /// Audio of the pieces of the window being filled: (track sample it starts at, samples).
    speech: Vec<(usize, Vec<f32>)>,
    /// Passes over complete windows, in order.
    window_passes: Vec<WindowPass>,
    /// The latest pass over the window being filled, made while a core was spare, and the
    /// window as it then stood.
    early: Option<(asr::Window, WindowPass)>,
}

impl TrackPipeline {
    /// `interim_every` (s) is the spacing of interim passes over open speech; 0 turns them off.
    pub fn new(
        models_dir: &Path,
        index: usize,
        role: Role,
        rate: u32,
        interim_every: f64,
    ) -> Result<TrackPipeline, Error> {
        Ok(TrackPipeline {
            index,
            role,
            resampler: audio::Resampler::new(rate)?,
            vad: vad::Vad::new(models_dir, vad::Params::default())?,
            buffer: Vec::new(),
            buffer_start: 0,
            total: 0,
            arrivals: VecDeque::new(),
            speaking: None,
            decode_from: 0,
            committed_until: 0.0,
            shown_since_from: Vec::new(),
            hypothesis: Vec::new(),
            last_interim: 0,
            interim_every: (interim_every.max(0.0) * RATE as f64) as usize,
            packer: asr::Packer::default(),
            packed_until: 0,
            speech: Vec::new(),
            window_passes: Vec::new(),
            early: None,
        })
    }

    /// Seconds of 16 kHz audio taken in so far.
    pub fn seconds(&self) -> f64 {
        self.total as f64 / RATE as f64
    }

    /// Feeds samples at the track's own rate that arrived at `arrived`.
    pub async fn push(&mut self, samples: &[f32], arrived: Instant, decoder: &Decoder) -> Result<Vec<Output>, Error> {
        let mut resampled = Vec::new();
        self.resampler.push(samples, &mut resampled)?;
        self.take(resampled, arrived, decoder, true).await
    }

    /// The track has ended: flushes the resampler, decodes any speech still open, and waits for
    /// the window passes that make the transcript.
    pub async fn finish(mut self, decoder: &Decoder) -> Result<Finished, Error> {
        let mut tail = Vec::new();
        self.resampler.finish(&mut tail)?;
        let mut outputs = self.take(tail, Instant::now(), decoder, false).await?;
        if let Some(region) = self.vad.finish(self.total) {
            outputs.extend(self.close_region(region.start, region.end, decoder).await?);
        }
        self.speaking = None;
        // The call has hung up: its draft waits for every window pass still queued.
        let passes = std::mem::take(&mut self.window_passes);
        for pass in &passes {
            decoder.raise(&pass.urgency, Priority::Final);
        }
        let mut segments = Vec::new();
        for pass in passes {
            segments.extend(joined(pass.task.await)?);
        }
        if let Some(window) = self.packer.finish() {
            segments.extend(joined(self.final_pass(window, decoder, Priority::Final).task.await)?);
        }
        Ok(Finished { outputs, segments })
    }

    async fn take(
        &mut self,
        samples: Vec<f32>,
        arrived: Instant,
        decoder: &Decoder,
        live: bool,
    ) -> Result<Vec<Output>, Error> {
        self.buffer.extend_from_slice(&samples);
        self.total += samples.len();
        self.arrivals.push_back((self.total, arrived));
        let mut out = Vec::new();
        for region in self.vad.push(&samples)? {
            out.extend(self.close_region(region.start, region.end, decoder).await?);
        }
        match self.vad.detector().open_since() {
            Some(open) => {
                self.speaking.get_or_insert_with(|| decoder.speaking());
                self.pack_long_speech(open, decoder);
                let from = open.max(self.decode_from);
                let length = self.total.saturating_sub(from);
                if length as f64 >= FORCE_CUT * RATE as f64 {
                    out.extend(self.force_cut(from, decoder).await?);
                } else if live
                    && self.interim_every > 0
                    && length as f64 >= INTERIM_AFTER * RATE as f64
                    && self.total - self.last_interim >= self.interim_every
                    && decoder.idle_for(asr::Pass::Utterance)
                {
                    out.extend(self.interim(from, decoder).await?);
                }
                self.trim(open.max(self.decode_from.min(self.packed_until)));
            }
            None => {
                self.speaking = None;
                if live && decoder.idle_for(asr::Pass::Window) {
                    self.pass_early(decoder);
                }
                self.trim(self.total.saturating_sub(KEEP_WHEN_SILENT));
            }
        }
        Ok(out)
    }

    /// A closed region: everything in it not yet committed is final, and its speech joins a window.
    async fn close_region(&mut self, start: usize, end: usize, decoder: &Decoder) -> Result<Vec<Output>, Error> {
        let from = start.max(self.decode_from).max(self.buffer_start);
        let mut out = Vec::new();
        if end > from + RATE / 10 {
            let words = self.decode_utterance(from, end, decoder, Priority::Now).await?;
            out.extend(self.commit(words));
        }
        self.hypothesis.clear();
        self.shown_since_from.clear();
        self.decode_from = end;
        self.last_interim = self.total;
        self.pack(start.max(self.packed_until), end, decoder);
        Ok(out)
    }

    /// Speech that goes on past a window's length is handed to the packer in the pieces offline
    /// packing would cut it into, so the buffer stays bounded and the windows stay the same.
    fn pack_long_speech(&mut self, open: usize, decoder: &Decoder) {
        loop {
            let from = open.max(self.packed_until);
            if self.total - from <= asr::MAX_WINDOW_SAMPLES {
                return;
            }
            self.pack(from, from + self.packer.room(), decoder);
        }
    }

    /// Hands track samples `from..to` to the packer and starts a pass over each window it completes.
    fn pack(&mut self, from: usize, to: usize, decoder: &Decoder) {
        // The buffer always reaches back to the open region's start (see `take`); the clamp only
        // keeps a broken assumption from becoming a panic on the audio path.
        let from = from.max(self.buffer_start);
        if to <= from {
            return;
        }
        let lo = from - self.buffer_start;
        self.speech.push((from, self.buffer[lo..to - self.buffer_start].to_vec()));
        self.packed_until = to;
        for window in self.packer.push(from..to) {
            let pass = self.final_pass(window, decoder, Priority::Later);
            self.window_passes.push(pass);
        }
        // Only the window being filled still needs its audio.
        let keep_from = self.packer.current().map_or(usize::MAX, |w| w.span().start);
        self.speech.retain(|(at, samples)| at + samples.len() > keep_from);
    }

    /// While a core is spare, decodes the window being filled as it stands: if nothing joins
    /// it before the track ends, its pass is already done at hang-up.
    fn pass_early(&mut self, decoder: &Decoder) {
        let Some(window) = self.packer.current() else { return };
        match &self.early {
            Some((early, _)) if *early == window => return,
            // The window grew: a pass over it as it was is of no use (if it has not started,
            // the worker skips it).
            Some((_, pass)) => pass.task.abort(),
            None => {}
        }
        let pass = self.window_pass(window.clone(), decoder, Priority::Spare);
        self.early = Some((window, pass));
    }

    /// The pass over a window that will not change again: its early pass when that covered all
    /// of it (nothing joined the window since), no longer a guess and so raised to `priority`,
    /// else a new one at `priority`.
    fn final_pass(&mut self, window: asr::Window, decoder: &Decoder, priority: Priority) -> WindowPass {
        match self.early.take() {
            Some((early, pass)) if early == window => {
                decoder.raise(&pass.urgency, priority);
                pass
            }
            outdated => {
                if let Some((_, pass)) = outdated {
                    pass.task.abort();
                }
                self.window_pass(window, decoder, priority)
            }
        }
    }

    /// Starts a pass over `window` on the decoder; its segments are in track time.
    fn window_pass(&self, window: asr::Window, decoder: &Decoder, priority: Priority) -> WindowPass {
        let samples = window.assemble(|at, len| {
            let (start, held) =
                self.speech.iter().rfind(|(start, _)| *start <= at).expect("every piece of a window is held");
            &held[at - start..at - start + len]
        });
        let (decoder, track, role) = (decoder.clone(), self.index, self.role);
        tracing::debug!(track, pieces = ?window.pieces, ?priority, "window pass queued");
        let urgency = Urgency::new(priority);
        let waits = urgency.clone();
        let task = tokio::spawn(async move {
            let recognized = decoder.decode(samples, asr::Pass::Window, waits).await.map_err(Error::Recognition)?;
            Ok(recognized.into_iter().map(|r| window.segment(track, role, r)).collect())
        });
        WindowPass { task, urgency }
    }

    /// LocalAgreement-2 over the open region, and words the pass heard well before its end.
    async fn interim(&mut self, from: usize, decoder: &Decoder) -> Result<Vec<Output>, Error> {
        self.last_interim = self.total;
        let heard_until = self.total as f64 / RATE as f64;
        let mut words = self.decode_utterance(from, self.total, decoder, Priority::Spare).await?;
        let agreed =
            self.hypothesis.iter().zip(&words).take_while(|(a, b)| bare_word(&a.text) == bare_word(&b.text)).count();
        let settled = words.iter().take_while(|w| w.end <= heard_until - SETTLED_AFTER).count();
        let rest = words.split_off(agreed.max(settled));
        let mut out: Vec<Output> = self.commit(words).into_iter().collect();
        if !rest.is_empty() {
            out.push(Output::Partial(self.piece(&rest, None, false)));
        }
        self.hypothesis = rest;
        Ok(out)
    }

    /// An overlong region: commit all but its last words, whose audio may run on, and go on
    /// decoding from there.
    async fn force_cut(&mut self, from: usize, decoder: &Decoder) -> Result<Vec<Output>, Error> {
        let mut words = self.decode_utterance(from, self.total, decoder, Priority::Now).await?;
        let keep = words.len().min(2);
        let unsure = words.split_off(words.len() - keep);
        let out = self.commit(words).into_iter().collect();
        let cut = unsure.first().map_or(self.committed_until, |w| w.start.max(self.committed_until));
        self.decode_from = ((cut * RATE as f64) as usize).clamp(from + 1, self.total);
        self.hypothesis.clear();
        self.shown_since_from.clear();
        self.last_interim = self.total;
        Ok(out)
    }

    /// Decodes track samples `from..to` on their own; returns the words not yet committed, in
    /// track time.
    async fn decode_utterance(
        &mut self,
        from: usize,
        to: usize,
        decoder: &Decoder,
        priority: Priority,
    ) -> Result<Vec<Word>, Error> {
        let lo = from.saturating_sub(self.buffer_start).min(self.buffer.len());
        let hi = to.saturating_sub(self.buffer_start).clamp(lo, self.buffer.len());
        let offset = (self.buffer_start + lo) as f64 / RATE as f64;
        let recognized = decoder
            .decode(self.buffer[lo..hi].to_vec(), asr::Pass::Utterance, Urgency::new(priority))
            .await
            .map_err(Error::Recognition)?;
        let mut words: Vec<Word> = recognized
            .into_iter()
            .flat_map(|r| r.words)
            .map(|w| Word { start: w.start + offset, end: (w.end + offset).max(w.start + offset), ..w })
            .collect();
        words.drain(..already_shown(&self.shown_since_from, &words));
        Ok(words)
    }

    fn commit(&mut self, words: Vec<Word>) -> Option<Output> {
        let last = words.last()?;
        self.committed_until = self.committed_until.max(last.end);
        self.shown_since_from.extend(words.iter().map(|w| bare_word(&w.text)));
        let piece = self.piece(&words, None, true);
        let confidence = words.iter().map(|w| w.probability).sum::<f32>() / words.len() as f32;
        let end_sample = (piece.end * RATE as f64) as usize;
        while self.arrivals.len() > 1 && self.arrivals[0].0 < end_sample {
            self.arrivals.pop_front();
        }
        let latency = self.arrivals.front().map_or(0.0, |(_, at)| at.elapsed().as_secs_f64());
        let segment = Segment {
            id: 0,
            speaker: self.role,
            track: self.index,
            start: piece.start,
            end: piece.end,
            text: piece.text,
            confidence,
            words,
        };
        Some(Output::Committed { segment, latency })
    }

    fn piece(&self, words: &[Word], segment: Option<u32>, is_final: bool) -> Piece {
        Piece {
            track: self.index,
            speaker: self.role,
            segment,
            start: words.first().map_or(0.0, |w| w.start),
            end: words.last().map_or(0.0, |w| w.end),
            text: words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
            is_final,
        }
    }

    fn trim(&mut self, keep_from: usize) {
        let keep_from = keep_from.min(self.total);
        if keep_from > self.buffer_start {
            self.buffer.drain(..keep_from - self.buffer_start);
            self.buffer_start = keep_from;
        }
    }
}

/// How many of a pass's first words repeat the `shown` ones: a pass starts where the shown text
/// did, so it says them again, word for word unless it splits or joins a word or two
/// differently this time. (Word times are no guide: they shift by up to a second between a
/// pass over part of an utterance and one over all of it.)
fn already_shown(shown: &[String], words: &[Word]) -> usize {
    let Some(last) = shown.last() else { return 0 };
    let said = shown.concat();
    let mut heard = String::new();
    for (k, word) in words.iter().enumerate() {
        heard.push_str(&bare_word(&word.text));
        if heard == said {
            return k + 1;
        }
        if heard.len() >= said.len() {
            break;
        }
    }
    // Heard differently this time: up to the shown text's last word, if it comes where expected.
    let n = shown.len();
    [n, n - 1, n + 1, n.saturating_sub(2), n + 2]
        .into_iter()
        .filter(|&k| (1..=words.len()).contains(&k))
        .find(|&k| bare_word(&words[k - 1].text) == *last)
        .unwrap_or(n.min(words.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Word> {
        text.split(' ').map(|w| Word { text: w.into(), start: 0.0, end: 0.0, probability: 1.0 }).collect()
    }

    fn shown(text: &str) -> Vec<String> {
        text.split(' ').map(bare_word).collect()
    }

    #[test]
    fn a_pass_over_more_audio_skips_what_was_already_shown() {
        assert_eq!(already_shown(&[], &words("good morning")), 0);
        assert_eq!(
            already_shown(
                &shown("Good morning! What can I do for you"),
                &words("Good morning. What can I do for you today?")
            ),
            8
        );
        // The second pass joined "good morning" into one word.
        assert_eq!(already_shown(&shown("good morning what"), &words("goodmorning what can")), 2);
        // It split a word the first pass heard as one.
        assert_eq!(already_shown(&shown("hello everyone"), &words("hello every one today")), 3);
        // Nothing matches: as many words as were shown.
        assert_eq!(already_shown(&shown("a b c"), &words("x y z w")), 3);
        assert_eq!(already_shown(&shown("a b c"), &words("x")), 1);
    }
}
