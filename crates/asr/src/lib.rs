//! Speech recognition: tracks of 16 kHz audio into a timed, speaker-attributed transcript.
//!
//! Each participant's track goes through Silero VAD; the speech regions are packed, with short
//! gaps between them, into windows of at most [`MAX_WINDOW`] seconds, because whisper.cpp pays a
//! full 30 s encoder pass per call however little speech it is given. Each window is decoded
//! with the language forced (auto-detection picks English on synthetic Danish), and the
//! segments' times are mapped back through the packing to the track's own clock. Tracks are
//! transcribed separately and merged by time, so speaker attribution comes from the channel,
//! never from guessing. A sentence Whisper repeats in a loop is kept once (`loops`), and
//! whisper.cpp's own log lines go to `tracing` without the ones that carry decoded words
//! (`logs`).

mod logs;
mod loops;

use std::ops::Range;
use std::path::{Path, PathBuf};

use transcript::{Role, Segment, Transcript, Word};
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

const RATE: usize = audio::TARGET_RATE as usize;
/// Longest packed window, leaving whisper's 30 s context a margin.
pub const MAX_WINDOW: f64 = 28.0;
/// [`MAX_WINDOW`] in 16 kHz samples.
pub const MAX_WINDOW_SAMPLES: usize = MAX_WINDOW as usize * RATE;
/// Silence put between packed regions so words from two regions never fuse.
const GAP: usize = RATE * 3 / 10;
/// Seconds of audio per encoder output frame, and the encoder's whole context (30 s).
const ENCODER_FRAME: f64 = 0.02;
const FULL_CONTEXT: i32 = 1500;
/// Encoder frames an utterance pass sees beyond the utterance itself (1.3 s).
const UTTERANCE_MARGIN: i32 = 64;
/// Token budget of an utterance pass: fast Danish speech is about 3 words and 6 tokens a second.
const UTTERANCE_TOKENS_PER_SECOND: f64 = 8.0;

/// What a decoding pass is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// A packed window of up to 30 s, decoded with full context: what the transcript keeps.
    Window,
    /// One utterance on its own, decoded cheaply for text shown while the call goes on.
    Utterance,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "Whisper model not found at {0}: run `autonotar models fetch`, or set [models] whisper in autonotar.toml to a GGML model file"
    )]
    ModelMissing(PathBuf),
    #[error(
        "could not load the Whisper model {path}: {reason} (is it a whisper.cpp GGML file? `autonotar models fetch` rebuilds the default one)"
    )]
    ModelBroken { path: PathBuf, reason: String },
    #[error(
        "{0} is a CTranslate2 model directory, not a whisper.cpp file: convert it once with `autonotar models convert {0} OUT.bin`, then set [models] whisper to OUT.bin"
    )]
    NotConverted(PathBuf),
    #[error(
        "{path} is an English-only Whisper ({size}), but the language is {language:?}: it would write English words for that speech. Use a multilingual model, or set [asr] language = \"en\" for English calls"
    )]
    EnglishOnly { path: PathBuf, size: String, language: String },
    #[error("{0:?} is not a language Whisper knows: set [asr] language to an ISO 639-1 code such as \"da\"")]
    UnknownLanguage(String),
    #[error(
        "the initial prompt is {tokens} tokens, and Whisper reads at most {budget}: shorten [asr] initial_prompt (the vocabulary is added only as far as it fits)"
    )]
    PromptTooLong { tokens: usize, budget: usize },
    #[error("[asr] initial_prompt and vocabulary must not contain NUL characters")]
    PromptNul,
    #[error("speech recognition failed: {0}")]
    Whisper(String),
    #[error(transparent)]
    Vad(#[from] vad::Error),
    #[error(transparent)]
    Audio(#[from] audio::Error),
}

fn whisper_error(e: whisper_rs::WhisperError) -> Error {
    Error::Whisper(e.to_string())
}

/// Decoding choices; the defaults are what `autonotar transcribe` uses.
#[derive(Debug, Clone)]
pub struct Options {
    /// ISO 639-1 code, forced.
    pub language: String,
    pub threads: usize,
    /// 1 = greedy decoding; more = beam search of that width (slower, slightly better).
    pub beam_size: usize,
    /// Text the decoder reads as if it had been said just before each pass.
    pub initial_prompt: Option<String>,
    /// Words to prime the decoder with (drug names, the clinic's own terms), most important
    /// first: appended to the prompt as far as Whisper's prompt budget allows.
    pub vocabulary: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options { language: "da".into(), threads: 2, beam_size: 1, initial_prompt: None, vocabulary: Vec::new() }
    }
}

/// A loaded Whisper model.
pub struct Recognizer {
    context: WhisperContext,
    options: Options,
    /// The initial prompt with as much of the vocabulary as fits, built once at load.
    prompt: Option<String>,
}

impl Recognizer {
    pub fn load(model: &Path, options: Options) -> Result<Recognizer, Error> {
        if model.is_dir() && model.join("model.bin").is_file() {
            return Err(Error::NotConverted(model.to_path_buf()));
        }
        if !model.is_file() {
            return Err(Error::ModelMissing(model.to_path_buf()));
        }
        // whisper.cpp reads these as C strings (a NUL would be a panic in whisper-rs).
        if !options.language.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(Error::UnknownLanguage(options.language.clone()));
        }
        if options.initial_prompt.iter().chain(&options.vocabulary).any(|text| text.contains('\0')) {
            return Err(Error::PromptNul);
        }
        logs::install();
        let broken = |reason: String| Error::ModelBroken { path: model.to_path_buf(), reason };
        let context = WhisperContext::new_with_params(model, WhisperContextParameters::default())
            .map_err(|e| broken(e.to_string()))?;
        // A state that cannot be made means a model that cannot decode: say so now.
        context.create_state().map_err(|e| broken(e.to_string()))?;
        if whisper_rs::get_lang_id(&options.language).is_none() {
            return Err(Error::UnknownLanguage(options.language.clone()));
        }
        // whisper.cpp would quietly decode English-only models as English whatever the language.
        if !context.is_multilingual() && options.language != "en" {
            let size = context.model_type_readable_str_lossy().map(|s| s.into_owned()).unwrap_or_default();
            return Err(Error::EnglishOnly {
                path: model.to_path_buf(),
                size: format!("{size}.en"),
                language: options.language,
            });
        }
        let prompt = prompt_within_budget(&context, &options)?;
        Ok(Recognizer { context, options, prompt })
    }

    /// The prompt every pass starts from, if any.
    pub fn prompt(&self) -> Option<&str> {
        self.prompt.as_deref()
    }

    /// Cores a pass uses unless told otherwise (`[asr] threads`).
    pub fn threads(&self) -> usize {
        self.options.threads.max(1)
    }

    /// Decodes up to 30 s of 16 kHz audio. Times are seconds from the start of `samples`.
    pub fn recognize(&self, samples: &[f32]) -> Result<Vec<Recognized>, Error> {
        self.recognize_pass(samples, Pass::Window)
    }

    /// Decodes `samples` as `pass` says.
    pub fn recognize_pass(&self, samples: &[f32], pass: Pass) -> Result<Vec<Recognized>, Error> {
        self.recognize_on(samples, pass, self.threads())
    }

    /// [`Recognizer::recognize_pass`] on `threads` cores. The words do not depend on the thread
    /// count; passes on separate states may run at once from several threads.
    pub fn recognize_on(&self, samples: &[f32], pass: Pass, threads: usize) -> Result<Vec<Recognized>, Error> {
        let strategy = match self.options.beam_size {
            0 | 1 => SamplingStrategy::Greedy { best_of: 1 },
            n => SamplingStrategy::BeamSearch { beam_size: n as i32, patience: -1.0 },
        };
        let mut params = FullParams::new(strategy);
        params.set_language(Some(&self.options.language));
        params.set_n_threads(threads.max(1) as i32);
        params.set_translate(false);
        // Each window stands alone: carrying text over lets one hallucination seed the next.
        params.set_no_context(true);
        params.set_token_timestamps(true);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        if let Some(prompt) = &self.prompt {
            params.set_initial_prompt(prompt);
        }
        if let Pass::Utterance = pass {
            let seconds = samples.len() as f64 / RATE as f64;
            // The encoder sees only the utterance (plus a margin) instead of 30 s: about four
            // times cheaper for a few seconds of speech. Whisper is less sure of itself on such a
            // short context and can loop, so no temperature fallback and a token budget a few
            // times what anyone says in that time keep a bad pass short.
            params.set_audio_ctx(((seconds / ENCODER_FRAME).ceil() as i32 + UTTERANCE_MARGIN).min(FULL_CONTEXT));
            params.set_temperature_inc(0.0);
            params.set_max_tokens((seconds * UTTERANCE_TOKENS_PER_SECOND).ceil() as i32 + 8);
            params.set_single_segment(true);
        }
        // A fresh decoding state for every pass (≈ 20 ms): whisper.cpp seeds the sampler of its
        // temperature fallback once per state, so a reused state makes a pass's text depend on
        // every pass before it, and the same audio would not give the same transcript twice.
        let mut state = self.context.create_state().map_err(whisper_error)?;
        state.full(params, samples).map_err(whisper_error)?;
        let eot = self.context.token_eot();
        let mut out = Vec::new();
        for segment in state.as_iter() {
            let mut words: Vec<(Vec<u8>, f64, f64, f32)> = Vec::new();
            let mut probabilities = Vec::new();
            for i in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(i) else { continue };
                if token.token_id() >= eot {
                    continue;
                }
                let bytes = token.to_bytes().map_err(whisper_error)?;
                let data = token.token_data();
                let (p, t0, t1) = (token.token_probability(), data.t0 as f64 / 100.0, data.t1 as f64 / 100.0);
                probabilities.push(p);
                match words.last_mut() {
                    Some(word) if !bytes.starts_with(b" ") => {
                        word.0.extend_from_slice(bytes);
                        word.2 = word.2.max(t1);
                        word.3 = word.3.min(p);
                    }
                    _ => words.push((bytes.to_vec(), t0, t1, p)),
                }
            }
            let text = segment.to_str_lossy().map_err(whisper_error)?.trim().to_string();
            if text.is_empty() || probabilities.is_empty() {
                continue;
            }
            out.push(Recognized {
                start: segment.start_timestamp() as f64 / 100.0,
                end: segment.end_timestamp() as f64 / 100.0,
                text,
                confidence: probabilities.iter().sum::<f32>() / probabilities.len() as f32,
                words: words
                    .into_iter()
                    .map(|(bytes, start, end, probability)| Word {
                        text: String::from_utf8_lossy(&bytes).trim().to_string(),
                        start,
                        end,
                        probability,
                    })
                    .filter(|w| !w.text.is_empty())
                    .collect(),
            });
        }
        Ok(loops::without_loops(out))
    }
}

/// The initial prompt followed by as many vocabulary words as fit in the tokens whisper.cpp
/// reads of a prompt (half its text context, less one), so that none is cut off mid-word:
/// whisper.cpp itself would keep the *last* tokens of a prompt too long for it.
fn prompt_within_budget(context: &WhisperContext, options: &Options) -> Result<Option<String>, Error> {
    let budget = (context.n_text_ctx() / 2 - 1).max(0) as usize;
    // A token is at least one byte, so a text never needs more tokens than it has bytes.
    let count = |text: &str| context.tokenize(text, text.len() + 1).map(|t| t.len()).map_err(whisper_error);
    let mut prompt = options.initial_prompt.clone().unwrap_or_default().trim().to_string();
    let tokens = count(&prompt)?;
    if tokens > budget {
        return Err(Error::PromptTooLong { tokens, budget });
    }
    let mut listed = 0;
    for word in options.vocabulary.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
        let separator = match (prompt.is_empty(), listed) {
            (true, _) => "",
            (false, 0) => " ",
            (false, _) => ", ",
        };
        let longer = format!("{prompt}{separator}{word}");
        if count(&longer)? > budget {
            break;
        }
        prompt = longer;
        listed += 1;
    }
    if !options.vocabulary.is_empty() {
        // Configured words, not spoken ones: safe to log.
        tracing::info!(
            "Whisper prompt: {listed} of {} vocabulary words fit in its {budget} tokens",
            options.vocabulary.len()
        );
    }
    Ok((!prompt.is_empty()).then_some(prompt))
}

/// One decoded stretch, timed within the audio it was decoded from. Serializable so a pass
/// decoded on another machine (the `cluster` crate's workers) comes back as it was decoded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recognized {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub confidence: f32,
    pub words: Vec<Word>,
}

/// Speech regions packed into one decoding window: `pieces` maps window sample ranges back to
/// track sample positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub pieces: Vec<(Range<usize>, usize)>,
}

impl Window {
    pub fn samples(&self, track: &[f32]) -> Vec<f32> {
        self.assemble(|at, len| &track[at.min(track.len())..(at + len).min(track.len())])
    }

    /// The window's audio, taking each piece's samples from `piece(track position, length)`,
    /// for a caller that holds only the speech, not the whole track.
    pub fn assemble<'a>(&self, piece: impl Fn(usize, usize) -> &'a [f32]) -> Vec<f32> {
        let mut out = Vec::new();
        for (inside, at) in &self.pieces {
            out.resize(inside.start, 0.0);
            out.extend_from_slice(piece(*at, inside.len()));
        }
        out
    }

    /// Track sample positions the window covers, from its first piece to the end of its last.
    pub fn span(&self) -> Range<usize> {
        let start = self.pieces.first().map_or(0, |(_, at)| *at);
        let end = self.pieces.last().map_or(start, |(inside, at)| at + inside.len());
        start..end
    }

    /// A decoded stretch of this window as a segment of track `track`, in track time.
    pub fn segment(&self, track: usize, role: Role, r: Recognized) -> Segment {
        let start = self.track_time(r.start);
        let end = self.track_time(r.end).max(start);
        Segment {
            id: 0,
            speaker: role,
            track,
            start,
            end,
            text: r.text,
            confidence: r.confidence,
            words: r
                .words
                .into_iter()
                .map(|w| Word { start: self.track_time(w.start), end: self.track_time(w.end), ..w })
                .collect(),
        }
    }

    /// Track time (s) of window time `t` (s): inside a piece it shifts with the piece; in a gap
    /// it snaps to the nearer piece edge.
    pub fn track_time(&self, t: f64) -> f64 {
        let sample = (t * RATE as f64).max(0.0) as usize;
        let mut best = self.pieces.first().map_or(0, |(_, at)| *at);
        for (inside, at) in &self.pieces {
            if sample >= inside.end {
                best = at + inside.len();
            } else if sample >= inside.start {
                best = at + (sample - inside.start);
                break;
            } else {
                best = if sample + GAP / 2 >= inside.start { *at } else { best };
                break;
            }
        }
        best as f64 / RATE as f64
    }
}

/// Packs regions into windows of at most [`MAX_WINDOW`] s; a longer region is cut into pieces.
pub fn pack(regions: &[Range<usize>]) -> Vec<Window> {
    let mut packer = Packer::default();
    let mut windows: Vec<Window> = regions.iter().flat_map(|region| packer.push(region.clone())).collect();
    windows.extend(packer.finish());
    windows
}

/// [`pack`] one region at a time, as speech regions close during a live call: the live path
/// packs with this very code, so its windows are the offline path's windows.
#[derive(Debug, Default, Clone)]
pub struct Packer {
    current: Vec<(Range<usize>, usize)>,
    length: usize,
}

impl Packer {
    /// Adds the next region (after every earlier one); returns the windows it completed.
    pub fn push(&mut self, region: Range<usize>) -> Vec<Window> {
        let mut done = Vec::new();
        let mut at = region.start;
        while at < region.end {
            let gap = if self.current.is_empty() { 0 } else { GAP };
            if self.length + gap >= MAX_WINDOW_SAMPLES {
                done.extend(self.finish());
                continue;
            }
            let room = MAX_WINDOW_SAMPLES - self.length - gap;
            let take = (region.end - at).min(room);
            if take < region.end - at && !self.current.is_empty() && region.end - region.start <= MAX_WINDOW_SAMPLES {
                // The region fits a window of its own: start one rather than cut it.
                done.extend(self.finish());
                continue;
            }
            let start = self.length + gap;
            self.current.push((start..start + take, at));
            self.length = start + take;
            at += take;
        }
        done
    }

    /// The window being filled, if it has anything.
    pub fn current(&self) -> Option<Window> {
        (!self.current.is_empty()).then(|| Window { pieces: self.current.clone() })
    }

    /// How much of a region longer than a window [`Packer::push`] would put in the window being
    /// filled (a whole new window's worth when it is full): where the live path cuts speech
    /// that goes on and on, so that its pieces are the ones offline packing makes.
    pub fn room(&self) -> usize {
        let gap = if self.current.is_empty() { 0 } else { GAP };
        if self.length + gap >= MAX_WINDOW_SAMPLES {
            MAX_WINDOW_SAMPLES
        } else {
            MAX_WINDOW_SAMPLES - self.length - gap
        }
    }

    /// Closes the window being filled.
    pub fn finish(&mut self) -> Option<Window> {
        self.length = 0;
        (!self.current.is_empty()).then(|| Window { pieces: std::mem::take(&mut self.current) })
    }
}

/// One participant's audio, already at 16 kHz.
pub struct Track {
    pub role: Role,
    pub samples: Vec<f32>,
}

/// One participant's audio as recorded, at its own rate, before it is resampled: what the
/// offline path reads from a file and the streaming path sends to the live service.
pub struct Recorded {
    pub role: Role,
    pub sample_rate: u32,
    pub samples: Vec<f32>,
}

impl Recorded {
    /// The channels of `recording`, channel `i` spoken by `roles[i]` (channels without a role
    /// are left out).
    pub fn channels(recording: audio::Recording, roles: &[Role]) -> Vec<Recorded> {
        let sample_rate = recording.sample_rate;
        recording
            .channels
            .into_iter()
            .zip(roles)
            .map(|(samples, &role)| Recorded { role, sample_rate, samples })
            .collect()
    }

    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// The offline path, for `transcribe`, `draft` and the research harness alike: each recorded
/// track resampled to 16 kHz by the same streaming resampler the live service runs, then
/// [`transcribe`].
pub fn transcribe_recorded(
    tracks: &[Recorded],
    models_dir: &Path,
    recognizer: &Recognizer,
    progress: &mut dyn FnMut(f64, f64),
) -> Result<Transcript, Error> {
    let tracks = tracks
        .iter()
        .map(|t| Ok(Track { role: t.role, samples: audio::to_16k(&t.samples, t.sample_rate)? }))
        .collect::<Result<Vec<_>, Error>>()?;
    transcribe(&tracks, models_dir, recognizer, progress)
}

/// Transcribes tracks one after another and merges their segments by time. `progress` hears
/// (seconds of audio done, seconds in all).
pub fn transcribe(
    tracks: &[Track],
    models_dir: &Path,
    recognizer: &Recognizer,
    progress: &mut dyn FnMut(f64, f64),
) -> Result<Transcript, Error> {
    let total: f64 = tracks.iter().map(|t| t.samples.len() as f64 / RATE as f64).sum();
    let mut done = 0.0;
    let mut per_track = Vec::new();
    for (index, track) in tracks.iter().enumerate() {
        let mut vad = vad::Vad::new(models_dir, vad::Params::default())?;
        let regions = vad::speech_regions(&mut vad, &track.samples)?;
        let mut segments = Vec::new();
        let windows = pack(&regions);
        let track_seconds = track.samples.len() as f64 / RATE as f64;
        for (w, window) in windows.iter().enumerate() {
            for r in recognizer.recognize(&window.samples(&track.samples))? {
                segments.push(window.segment(index, track.role, r));
            }
            progress(done + track_seconds * (w + 1) as f64 / windows.len() as f64, total);
        }
        done += track_seconds;
        progress(done, total);
        per_track.push(segments);
    }
    let duration = tracks.iter().map(|t| t.samples.len()).max().unwrap_or(0) as f64 / RATE as f64;
    // As the live service does with the segments it keeps (server's `drive`).
    transcript::remove_echo(&mut per_track);
    Ok(Transcript::merge(&recognizer.options.language, duration, per_track))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: usize = RATE;

    #[test]
    fn regions_pack_with_gaps_and_map_back() {
        let windows = pack(&[S..2 * S, 10 * S..12 * S]);
        assert_eq!(windows.len(), 1);
        let w = &windows[0];
        assert_eq!(w.pieces, vec![(0..S, S), (S + GAP..3 * S + GAP, 10 * S)]);
        assert_eq!(w.track_time(0.5), 1.5);
        assert_eq!(w.track_time((S + GAP) as f64 / S as f64 + 1.0), 11.0);
        // Past the end snaps to the last piece's end.
        assert_eq!(w.track_time(100.0), 12.0);
    }

    #[test]
    fn a_region_that_would_straddle_starts_a_new_window() {
        let windows = pack(&[0..20 * S, 30 * S..45 * S]);
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[1].pieces, vec![(0..15 * S, 30 * S)]);
    }

    #[test]
    fn an_overlong_region_is_cut_into_windows_that_cover_it_exactly() {
        let windows = pack(std::slice::from_ref(&(0..70 * S)));
        let covered: usize = windows.iter().flat_map(|w| &w.pieces).map(|(r, _)| r.len()).sum();
        assert_eq!(covered, 70 * S);
        assert!(windows.iter().all(|w| w.pieces.last().unwrap().0.end as f64 <= MAX_WINDOW * S as f64));
    }

    #[test]
    fn cutting_a_long_region_where_room_says_packs_as_offline_does() {
        let regions = [0..10 * S, 11 * S..80 * S, 81 * S..83 * S];
        let mut live = Packer::default();
        let mut windows = live.push(regions[0].clone());
        // The long region arrives in pieces, each cut once more than a window is open.
        let mut at = regions[1].start;
        while regions[1].end - at > (MAX_WINDOW * S as f64) as usize {
            let cut = at + live.room();
            windows.extend(live.push(at..cut));
            at = cut;
        }
        windows.extend(live.push(at..regions[1].end));
        windows.extend(live.push(regions[2].clone()));
        windows.extend(live.finish());
        assert_eq!(windows, pack(&regions));
    }

    #[test]
    fn window_samples_put_silence_in_the_gaps() {
        let track: Vec<f32> = (0..12 * S).map(|i| if i < 2 * S { 1.0 } else { 2.0 }).collect();
        let w = &pack(&[S..2 * S, 10 * S..11 * S])[0];
        let samples = w.samples(&track);
        assert_eq!(samples.len(), 2 * S + GAP);
        assert_eq!(samples[S + GAP / 2], 0.0);
        assert_eq!(samples[S + GAP], 2.0);
    }

    #[test]
    fn a_missing_model_says_what_to_do() {
        let err = Recognizer::load(Path::new("/nonexistent/ggml.bin"), Options::default()).err().unwrap().to_string();
        assert!(err.contains("autonotar models fetch"), "{err}");
    }
}
