//! The streaming path of `autonotar eval --streaming`: the live service runs in this process on a free loopback port,
//! and each consultation is replayed to it by the reference client as a live call, so the
//! streaming transcript comes from exactly the code a clinic runs (`server`), not a copy of it.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eval::{PipelineError, TranscriptRun};
use server::client::Replay;
use server::protocol::{Encoding, ServerMessage, TRACK_RATES, TrackSpec};

/// Frame length the replay sends, as `autonotar replay` does by default.
const FRAME_MS: u32 = 100;
/// Waiting for the draft after stop, on top of the audio's own length: a replay faster than the
/// machine decodes leaves most of the work for after the stop, and a busy machine can take
/// minutes for it; only a service that has stopped working takes longer.
const DRAFT_MARGIN: Duration = Duration::from_secs(600);

/// One live service for the whole run: the decoder worker and its model load once.
pub struct LiveService {
    runtime: tokio::runtime::Runtime,
    url: String,
    /// The in-process service's own ingest key, which exists nowhere else.
    key: secrets::Zeroizing<String>,
    speed: f64,
    /// Numbers the replayed consultations: a repeated id would resume a finished session.
    replays: AtomicU64,
}

impl LiveService {
    /// Starts the service without a drafter: the harness drafts itself and times that part, so
    /// `draft_ready` marks the end of transcription.
    pub fn start(
        settings: server::Settings,
        recognizer: asr::Recognizer,
        speed: f64,
    ) -> Result<LiveService, PipelineError> {
        // Two workers, as `autonotar serve` has: the replay and the service share them.
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .map_err(|e| format!("cannot open a loopback port for the streaming evaluation: {e}"))?;
        let address = listener.local_addr()?;
        // The corpora are synthetic and the transcripts are the results: nothing is kept or audited.
        let service =
            server::Service::new(settings, server::decode::local(recognizer), None, Arc::new(storage::Transient));
        let (keys, key) = server::IngestKeys::ephemeral(ids::Id::new("eval")?)?;
        runtime.spawn(async move {
            let forever = std::future::pending();
            if let Err(e) = server::serve(listener, service, keys, Default::default(), forever).await {
                tracing::error!("the in-process live service stopped: {e}");
            }
        });
        Ok(LiveService { runtime, url: format!("ws://{address}/v1/ingest"), key, speed, replays: AtomicU64::new(0) })
    }

    /// Replays the tracks as one live consultation and returns the transcript `draft_ready`
    /// carried, with the time from stop to `draft_ready` as the part after the hang-up.
    pub fn transcribe(&self, tracks: Vec<asr::Recorded>) -> Result<TranscriptRun, PipelineError> {
        let longest = tracks.iter().map(asr::Recorded::seconds).fold(0.0, f64::max);
        let tracks = tracks
            .into_iter()
            .enumerate()
            .map(|(index, track)| declare(index, track))
            .collect::<Result<Vec<_>, _>>()?;
        let replay = Replay {
            url: self.url.clone(),
            key: self.key.clone(),
            consultation: format!("eval-{}", self.replays.fetch_add(1, Ordering::Relaxed)),
            doctor: "eval".into(),
            speed: self.speed,
            frame_ms: FRAME_MS,
            tracks,
            drop_after: None,
            draft_timeout: DRAFT_MARGIN + Duration::from_secs_f64(longest),
            interim_draft: false,
        };
        let report = self.runtime.block_on(replay.run(&mut |_| {}))?;
        // A track whose recognition failed leaves a transcript with holes: scoring it would
        // report the failure as recognition errors.
        if let Some(ServerMessage::Error { code, message }) =
            report.events.iter().find(|e| matches!(e, ServerMessage::Error { .. }))
        {
            return Err(format!("the live service reported {code:?}: {message}").into());
        }
        let Some(ServerMessage::DraftReady { transcript, .. }) = report.draft() else {
            return Err("the live service ended without draft_ready".into());
        };
        Ok(TranscriptRun { transcript: (**transcript).clone(), after_hangup_seconds: Some(report.hangup_to_draft) })
    }
}

/// The track as the video client would declare it: its own rate (the service resamples, as in
/// production) in 32-bit floats (what the browser snippet sends; no requantising, so offline and
/// streaming hear the same samples). A rate the protocol does not take is brought to 16 kHz
/// first, as a client would have to.
fn declare(index: usize, track: asr::Recorded) -> Result<(TrackSpec, Vec<f32>), PipelineError> {
    let asr::Recorded { role, sample_rate, samples } = track;
    let (sample_rate, samples) = if TRACK_RATES.contains(&sample_rate) {
        (sample_rate, samples)
    } else {
        (audio::TARGET_RATE, audio::to_16k(&samples, sample_rate)?)
    };
    Ok((TrackSpec { id: format!("{role}-{index}"), role, sample_rate, encoding: Encoding::F32le }, samples))
}
