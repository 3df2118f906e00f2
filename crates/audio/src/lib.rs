//! Audio in: WAV files into per-participant tracks, and any sample rate into 16 kHz.
//!
//! A consultation recording has one channel per participant (channel 0 the doctor, 1 the
//! patient, further channels anyone else), so channels are kept apart here, never mixed.
//! Resampling is one streaming [`Resampler`] used both live (frames arrive in pieces) and offline
//! (a whole file pushed at once), so the two paths hear exactly the same 16 kHz signal.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _};

/// The rate Whisper and Silero VAD listen at.
pub const TARGET_RATE: u32 = 16_000;
/// Sample rates outside this range are refused as not audio we can trust.
pub const FILE_RATES: std::ops::RangeInclusive<u32> = 4_000..=384_000;
/// Most channels a recording may have: one per participant of a consultation.
pub const MAX_CHANNELS: usize = 8;
/// Samples reserved up front at most, whatever a header claims: a header can lie.
const MAX_RESERVED_SAMPLES: usize = 1 << 24;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: file not found")]
    NotFound(String),
    #[error("{path}: not a WAV file we can read ({reason})")]
    NotWav { path: String, reason: String },
    #[error("{path}: the WAV data ends early after {frames} frames (truncated recording?)")]
    Truncated { path: String, frames: usize },
    #[error("{0}: the WAV header claims 0 channels")]
    NoChannels(String),
    #[error("{path} has {channels} channels; a consultation has one per participant, at most 8")]
    TooManyChannels { path: String, channels: u16 },
    #[error("sample rate {0} Hz is outside the supported 4–384 kHz")]
    AbsurdRate(u32),
    #[error("{path}: {bits}-bit {format} samples are not supported (use 8/16/24/32-bit PCM or 32-bit float)")]
    UnsupportedFormat { path: String, bits: u16, format: &'static str },
    #[error("resampler: {0}")]
    Resample(String),
}

/// A decoded recording: each channel's samples as f32 in [-1, 1].
#[derive(Debug, Clone)]
pub struct Recording {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

impl Recording {
    pub fn duration_seconds(&self) -> f64 {
        self.channels.first().map_or(0.0, |c| c.len() as f64 / self.sample_rate as f64)
    }
}

/// Reads a WAV file: 8/16/24/32-bit integer PCM or 32-bit float, any rate in [`FILE_RATES`],
/// any number of channels.
pub fn read_wav(path: &Path) -> Result<Recording, Error> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|_| Error::NotFound(shown.clone()))?;
    read_wav_from(BufReader::new(file), &shown)
}

/// As [`read_wav`], from any reader; `name` is used in error messages.
pub fn read_wav_from(reader: impl Read, name: &str) -> Result<Recording, Error> {
    let not_wav = |e: hound::Error| Error::NotWav { path: name.to_string(), reason: e.to_string() };
    let reader = hound::WavReader::new(reader).map_err(not_wav)?;
    let spec = reader.spec();
    if spec.channels == 0 {
        return Err(Error::NoChannels(name.into()));
    }
    if spec.channels as usize > MAX_CHANNELS {
        return Err(Error::TooManyChannels { path: name.into(), channels: spec.channels });
    }
    if !FILE_RATES.contains(&spec.sample_rate) {
        return Err(Error::AbsurdRate(spec.sample_rate));
    }
    let n_channels = spec.channels as usize;
    let expected = reader.len() as usize;
    let mut interleaved: Vec<f32> = Vec::with_capacity(expected.min(MAX_RESERVED_SAMPLES));
    let truncated = |got: usize| Error::Truncated { path: name.into(), frames: got / n_channels };
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            for s in reader.into_samples::<f32>() {
                interleaved.push(s.map_err(|_| truncated(interleaved.len()))?);
            }
        }
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            for s in reader.into_samples::<i32>() {
                interleaved.push(s.map_err(|_| truncated(interleaved.len()))? as f32 * scale);
            }
        }
        (format, bits) => {
            let format = if format == hound::SampleFormat::Float { "float" } else { "integer" };
            return Err(Error::UnsupportedFormat { path: name.into(), bits, format });
        }
    }
    if interleaved.len() < expected {
        return Err(truncated(interleaved.len()));
    }
    let frames = interleaved.len() / n_channels;
    let channels = (0..n_channels).map(|c| (0..frames).map(|f| interleaved[f * n_channels + c]).collect()).collect();
    Ok(Recording { sample_rate: spec.sample_rate, channels })
}

/// Streaming conversion of one mono track to 16 kHz.
///
/// Push samples in pieces of any size; output comes in whole resampler chunks, continuous across
/// piece borders (no gaps, no clicks), and already shifted by the filter delay so output sample
/// `i` is input time `i / 16000` s. [`Resampler::finish`] flushes the tail.
pub struct Resampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
    /// Output samples still to drop: the resampler's filter delay.
    delay_left: usize,
    input_total: u64,
    output_total: u64,
    rate: u32,
}

impl Resampler {
    /// Input chunk of 20 ms at the source rate: small enough for live latency, large enough for FFT efficiency.
    pub fn new(rate: u32) -> Result<Resampler, Error> {
        if !FILE_RATES.contains(&rate) {
            return Err(Error::AbsurdRate(rate));
        }
        let inner = if rate == TARGET_RATE {
            None
        } else {
            let chunk = (rate as usize / 50).max(64);
            Some(
                Fft::<f32>::new(rate as usize, TARGET_RATE as usize, chunk, 1, FixedSync::Input)
                    .map_err(|e| Error::Resample(e.to_string()))?,
            )
        };
        let delay_left = inner.as_ref().map_or(0, |r| r.output_delay());
        Ok(Resampler { inner, pending: Vec::new(), delay_left, input_total: 0, output_total: 0, rate })
    }

    /// Feeds `samples`, appending whatever 16 kHz output is ready to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<(), Error> {
        self.input_total += samples.len() as u64;
        let Some(inner) = self.inner.as_mut() else {
            out.extend_from_slice(samples);
            self.output_total += samples.len() as u64;
            return Ok(());
        };
        self.pending.extend_from_slice(samples);
        let mut consumed = 0;
        while self.pending.len() - consumed >= inner.input_frames_next() {
            let need = inner.input_frames_next();
            let chunk = &self.pending[consumed..consumed + need];
            Self::run(inner, chunk, None, &mut self.delay_left, &mut self.output_total, out)?;
            consumed += need;
        }
        self.pending.drain(..consumed);
        Ok(())
    }

    /// Flushes the tail: the output then holds exactly `ceil(input · 16000 / rate)` samples.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), Error> {
        let Some(inner) = self.inner.as_mut() else { return Ok(()) };
        let expected = (self.input_total * TARGET_RATE as u64).div_ceil(self.rate as u64);
        // Zero input pushes the last real samples and the filter's delay out.
        while self.output_total < expected {
            let need = inner.input_frames_next();
            let mut chunk = std::mem::take(&mut self.pending);
            let partial = chunk.len();
            chunk.resize(need, 0.0);
            let indexing =
                Indexing { input_offset: 0, output_offset: 0, partial_len: Some(partial), active_channels_mask: None };
            let before = out.len();
            Self::run(inner, &chunk, Some(&indexing), &mut self.delay_left, &mut self.output_total, out)?;
            if self.output_total > expected {
                out.truncate(before + (out.len() - before) - (self.output_total - expected) as usize);
                self.output_total = expected;
            }
        }
        Ok(())
    }

    fn run(
        inner: &mut Fft<f32>,
        chunk: &[f32],
        indexing: Option<&Indexing>,
        delay_left: &mut usize,
        total: &mut u64,
        out: &mut Vec<f32>,
    ) -> Result<(), Error> {
        let input = InterleavedSlice::new(chunk, 1, chunk.len()).map_err(|e| Error::Resample(e.to_string()))?;
        let produced = inner.process(&input, indexing).map_err(|e| Error::Resample(e.to_string()))?;
        let samples = produced.take_data();
        let skip = (*delay_left).min(samples.len());
        *delay_left -= skip;
        out.extend_from_slice(&samples[skip..]);
        *total += (samples.len() - skip) as u64;
        Ok(())
    }
}

/// Resamples a whole track to 16 kHz through the same streaming path the live service uses.
pub fn to_16k(samples: &[f32], rate: u32) -> Result<Vec<f32>, Error> {
    let mut resampler = Resampler::new(rate)?;
    let mut out = Vec::with_capacity((samples.len() as u64 * TARGET_RATE as u64 / rate as u64) as usize + 1);
    resampler.push(samples, &mut out)?;
    resampler.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, seconds: f32) -> Vec<f32> {
        (0..(rate as f32 * seconds) as usize)
            .map(|i| (i as f32 / rate as f32 * hz * std::f32::consts::TAU).sin() * 0.5)
            .collect()
    }

    fn wav_bytes(
        spec: hound::WavSpec,
        write: impl FnOnce(&mut hound::WavWriter<&mut std::io::Cursor<Vec<u8>>>),
    ) -> Vec<u8> {
        let mut cursor = std::io::Cursor::new(Vec::new());
        {
            let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
            write(&mut writer);
            writer.finalize().unwrap();
        }
        cursor.into_inner()
    }

    #[test]
    fn reads_every_supported_sample_format_into_separate_channels() {
        for (bits, format) in [
            (8, hound::SampleFormat::Int),
            (16, hound::SampleFormat::Int),
            (24, hound::SampleFormat::Int),
            (32, hound::SampleFormat::Int),
            (32, hound::SampleFormat::Float),
        ] {
            let spec = hound::WavSpec { channels: 2, sample_rate: 8000, bits_per_sample: bits, sample_format: format };
            let bytes = wav_bytes(spec, |w| {
                for _ in 0..10 {
                    if format == hound::SampleFormat::Float {
                        w.write_sample(0.5f32).unwrap();
                        w.write_sample(-0.25f32).unwrap();
                    } else {
                        let full = 1i64 << (bits - 1);
                        w.write_sample((full / 2) as i32).unwrap();
                        w.write_sample((-full / 4) as i32).unwrap();
                    }
                }
            });
            let rec = read_wav_from(&bytes[..], "x.wav").unwrap();
            assert_eq!(rec.channels.len(), 2);
            assert_eq!(rec.channels[0], vec![0.5; 10], "{bits}-bit {format:?}");
            assert_eq!(rec.channels[1], vec![-0.25; 10], "{bits}-bit {format:?}");
        }
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let good = wav_bytes(spec, |w| (0..1000).for_each(|_| w.write_sample(0i16).unwrap()));
        let cut = read_wav_from(&good[..good.len() - 101], "cut.wav").unwrap_err();
        assert!(matches!(cut, Error::Truncated { .. }), "{cut}");
        assert!(matches!(read_wav_from(&b"RIFF nonsense"[..], "x").unwrap_err(), Error::NotWav { .. }));
        assert!(matches!(read_wav_from(&b""[..], "x").unwrap_err(), Error::NotWav { .. }));
        let mut absurd = good.clone();
        absurd[24..28].copy_from_slice(&1_000_000u32.to_le_bytes());
        absurd[28..32].copy_from_slice(&2_000_000u32.to_le_bytes());
        assert!(matches!(read_wav_from(&absurd[..], "x").unwrap_err(), Error::AbsurdRate(1_000_000)));
        let mut zero_channels = good.clone();
        zero_channels[22..24].copy_from_slice(&0u16.to_le_bytes());
        assert!(read_wav_from(&zero_channels[..], "x").is_err());
    }

    #[test]
    fn a_header_that_lies_about_size_or_channels_costs_nothing() {
        // Two channels make hound write the plain 44-byte header, whose fields are patched below.
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let good = wav_bytes(spec, |w| (0..800).for_each(|_| w.write_sample(0i16).unwrap()));
        assert_eq!(&good[36..40], b"data");
        // A data chunk of almost 4 GiB declared, 1600 bytes present: a clear error, no 16 GiB buffer.
        let mut huge = good.clone();
        huge[40..44].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        assert!(matches!(read_wav_from(&huge[..], "huge.wav").unwrap_err(), Error::Truncated { .. }));
        // 65535 channels (with a block alignment to match) are refused before any is read.
        let mut wide = good.clone();
        wide[22..24].copy_from_slice(&65535u16.to_le_bytes());
        wide[28..32].copy_from_slice(&(16000u32 * 65535 * 2).to_le_bytes());
        wide[32..34].copy_from_slice(&(65535u16.wrapping_mul(2)).to_le_bytes());
        let error = read_wav_from(&wide[..], "wide.wav").unwrap_err();
        assert!(matches!(error, Error::TooManyChannels { channels: 65535, .. } | Error::NotWav { .. }), "{error}");
        let mut nine = good.clone();
        nine[22..24].copy_from_slice(&9u16.to_le_bytes());
        nine[28..32].copy_from_slice(&(16000u32 * 9 * 2).to_le_bytes());
        nine[32..34].copy_from_slice(&18u16.to_le_bytes());
        nine[40..44].copy_from_slice(&(177u32 * 18).to_le_bytes());
        let error = read_wav_from(&nine[..], "nine.wav").unwrap_err();
        assert!(matches!(error, Error::TooManyChannels { channels: 9, .. }), "{error}");
    }

    #[test]
    fn offline_length_and_tone_survive_resampling() {
        for rate in [8000, 22050, 44100, 48000] {
            let input = sine(rate, 440.0, 1.0);
            let out = to_16k(&input, rate).unwrap();
            assert_eq!(out.len(), 16000, "{rate}");
            // The tone keeps its amplitude away from the edges.
            let peak = out[2000..14000].iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!((peak - 0.5).abs() < 0.02, "{rate}: peak {peak}");
        }
    }

    #[test]
    fn streaming_in_odd_pieces_equals_offline_sample_for_sample() {
        let input = sine(48000, 300.0, 0.7);
        let offline = to_16k(&input, 48000).unwrap();
        let mut resampler = Resampler::new(48000).unwrap();
        let mut streamed = Vec::new();
        for piece in input.chunks(333) {
            resampler.push(piece, &mut streamed).unwrap();
        }
        resampler.finish(&mut streamed).unwrap();
        assert_eq!(streamed, offline);
    }

    #[test]
    fn no_click_at_chunk_borders() {
        // A 100 Hz tone changes by at most 2π·100/16000·0.5 ≈ 0.02 between 16 kHz samples;
        // a gap or duplicated chunk would jump far more.
        let out = to_16k(&sine(48000, 100.0, 1.0), 48000).unwrap();
        let worst = out[100..15900].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0f32, f32::max);
        assert!(worst < 0.03, "largest step {worst}");
    }

    #[test]
    fn timing_is_aligned_after_the_filter_delay() {
        // An impulse at 0.5 s must come out at 0.5 s.
        let mut input = vec![0f32; 48000];
        input[24000] = 1.0;
        let out = to_16k(&input, 48000).unwrap();
        let peak = out.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap().0;
        assert!((peak as i64 - 8000).abs() <= 2, "peak at {peak}");
    }
}
