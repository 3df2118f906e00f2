//! One track's streaming transcription: resampling → Silero VAD → Whisper with a commit policy.
//!
//! A speech region is decoded when the VAD closes it, and everything in it is committed. While a
//! region is still open (someone speaks at length) interim passes over it run when the Whisper
//! worker is otherwise idle, and LocalAgreement-2 (as in ufal/whisper_streaming) commits the
//! words two successive passes agree on; the rest is shown as partial text. A region that grows
//! past [`FORCE_CUT`] is committed up to its last words and decoding restarts there, so the
//! buffer never holds more than about half a minute of audio.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

use transcript::{Role, Segment, Word};

use crate::decoder::Decoder;
use crate::protocol::Piece;

const RATE: usize = audio::TARGET_RATE as usize;
/// An open region this long (s) is cut: Whisper sees at most 30 s.
const FORCE_CUT: f64 = 24.0;
/// Interim passes start once a region has this much speech (s); shorter ones close soon anyway.
const INTERIM_AFTER: f64 = 2.0;
/// Audio kept before the VAD's current position while nobody speaks: room for the padding a
/// region gets in front when speech starts.
const KEEP_WHEN_SILENT: usize = RATE;
/// Whisper's word times wobble by this much (s) between passes over the same audio.
const TIME_SLACK: f64 = 0.1;

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
    Committed { segment: Segment, latency: f64 },
    Partial(Piece),
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
    /// Nothing before this sample is decoded again.
    decode_from: usize,
    /// Track time (s) up to which words are committed.
    committed_until: f64,
    /// Last few committed words, normalised, to drop their echo at the head of the next pass.
    recent: Vec<String>,
    /// The previous interim pass's uncommitted words.
    hypothesis: Vec<Word>,
    last_interim: usize,
    interim_every: usize,
}

impl TrackPipeline {
    /// `interim_every` (s) is the spacing of interim passes over open speech; 0 turns them off.
    pub fn new(models_dir: &Path, index: usize, role: Role, rate: u32, interim_every: f64) -> Result<TrackPipeline, Error> {
        Ok(TrackPipeline {
            index,
            role,
            resampler: audio::Resampler::new(rate)?,
            vad: vad::Vad::new(models_dir, vad::Params::default())?,
            buffer: Vec::new(),
            buffer_start: 0,
            total: 0,
            arrivals: VecDeque::new(),
            decode_from: 0,
            committed_until: 0.0,
            recent: Vec::new(),
            hypothesis: Vec::new(),
            last_interim: 0,
            interim_every: (interim_every.max(0.0) * RATE as f64) as usize,
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

    /// The track has ended: flushes the resampler and decodes any speech still open.
    pub async fn finish(&mut self, decoder: &Decoder) -> Result<Vec<Output>, Error> {
        let mut tail = Vec::new();
        self.resampler.finish(&mut tail)?;
        let mut out = self.take(tail, Instant::now(), decoder, false).await?;
        if let Some(region) = self.vad.finish(self.total) {
            out.extend(self.close_region(region.start, region.end, decoder).await?);
        }
        self.hypothesis.clear();
        Ok(out)
    }

    async fn take(&mut self, samples: Vec<f32>, arrived: Instant, decoder: &Decoder, interim: bool) -> Result<Vec<Output>, Error> {
        self.buffer.extend_from_slice(&samples);
        self.total += samples.len();
        self.arrivals.push_back((self.total, arrived));
        let mut out = Vec::new();
        for region in self.vad.push(&samples)? {
            out.extend(self.close_region(region.start, region.end, decoder).await?);
        }
        match self.vad.detector().open_since() {
            Some(open) => {
                let from = open.max(self.decode_from);
                let length = self.total.saturating_sub(from);
                if length as f64 >= FORCE_CUT * RATE as f64 {
                    out.extend(self.force_cut(from, decoder).await?);
                } else if interim
                    && self.interim_every > 0
                    && length as f64 >= INTERIM_AFTER * RATE as f64
                    && self.total - self.last_interim >= self.interim_every
                    && decoder.idle()
                {
                    out.extend(self.interim(from, decoder).await?);
                }
                self.trim(from);
            }
            None => self.trim(self.total.saturating_sub(KEEP_WHEN_SILENT)),
        }
        Ok(out)
    }

    /// A closed region: everything in it not yet committed is final.
    async fn close_region(&mut self, start: usize, end: usize, decoder: &Decoder) -> Result<Vec<Output>, Error> {
        let from = start.max(self.decode_from).max(self.buffer_start);
        let mut out = Vec::new();
        if end > from + RATE / 10 {
            let words = self.decode(from, end, decoder).await?;
            out.extend(self.commit(words));
        }
        self.hypothesis.clear();
        self.decode_from = end;
        self.last_interim = self.total;
        Ok(out)
    }

    /// LocalAgreement-2 over the open region.
    async fn interim(&mut self, from: usize, decoder: &Decoder) -> Result<Vec<Output>, Error> {
        let mut words = self.decode(from, self.total, decoder).await?;
        self.last_interim = self.total;
        let agreed = self.hypothesis.iter().zip(&words).take_while(|(a, b)| normalise(&a.text) == normalise(&b.text)).count();
        let rest = words.split_off(agreed);
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
        let mut words = self.decode(from, self.total, decoder).await?;
        let keep = words.len().min(2);
        let unsure = words.split_off(words.len() - keep);
        let out = self.commit(words).into_iter().collect();
        let cut = unsure.first().map_or(self.committed_until, |w| w.start.max(self.committed_until));
        self.decode_from = ((cut * RATE as f64) as usize).clamp(from + 1, self.total);
        self.hypothesis.clear();
        self.last_interim = self.total;
        Ok(out)
    }

    /// Decodes track samples `from..to`; returns the words not yet committed, in track time.
    async fn decode(&mut self, from: usize, to: usize, decoder: &Decoder) -> Result<Vec<Word>, Error> {
        let lo = from.saturating_sub(self.buffer_start).min(self.buffer.len());
        let hi = to.saturating_sub(self.buffer_start).clamp(lo, self.buffer.len());
        let offset = (self.buffer_start + lo) as f64 / RATE as f64;
        let recognized = decoder.decode(self.buffer[lo..hi].to_vec()).await.map_err(Error::Recognition)?;
        let mut words: Vec<Word> = recognized
            .into_iter()
            .flat_map(|r| r.words)
            .map(|w| Word { start: w.start + offset, end: (w.end + offset).max(w.start + offset), ..w })
            .filter(|w| w.start >= self.committed_until - TIME_SLACK)
            .collect();
        // The first new words may repeat the last committed ones (Whisper heard them again at the
        // edge): drop the longest such echo, as whisper_streaming does.
        if let Some(first) = words.first()
            && (first.start - self.committed_until).abs() < 1.0
        {
            let echo = (1..=5.min(words.len()).min(self.recent.len()))
                .rev()
                .find(|&n| self.recent[self.recent.len() - n..].iter().zip(&words[..n]).all(|(a, b)| *a == normalise(&b.text)));
            if let Some(n) = echo {
                words.drain(..n);
            }
        }
        Ok(words)
    }

    fn commit(&mut self, words: Vec<Word>) -> Option<Output> {
        let last = words.last()?;
        self.committed_until = self.committed_until.max(last.end);
        self.recent.extend(words.iter().map(|w| normalise(&w.text)));
        let excess = self.recent.len().saturating_sub(5);
        self.recent.drain(..excess);
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

/// A word as the agreement test compares it: case and punctuation do not count.
fn normalise(word: &str) -> String {
    word.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}
