//! Live consultations: the registry, each session's tracks and event log, and finalisation.
//!
//! A session outlives its WebSocket connection: it stays in the registry while audio may still
//! come (a reconnecting client resumes it by consultation id) and for `keep_finished` after its
//! draft is ready. Everything lives in memory only; nothing is written to disk here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use ids::{ConsultationId, Id};
use secrets::Zeroizing;
use storage::{KeepError, Opening, Principal, Refusal, Sink};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use transcript::{Role, Segment, Transcript};

use crate::Settings;
use crate::decode::{Decode, Decoder};
use crate::metrics::Metrics;
use crate::pipeline::{Output, TrackPipeline};
use crate::protocol::{ErrorCode, Piece, ServerMessage, Start, TrackSpec, error, parse_frame};

/// Everything the live service shares.
pub struct Service {
    pub(crate) settings: Settings,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) decoder: Decoder,
    drafter: Option<Arc<note::Drafter>>,
    /// Hears every step first (the audit log, then the vault, in `serve`).
    sink: Arc<dyn Sink>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    /// Bumped whenever a consultation opens, for onlookers (the review app's live list).
    openings: watch::Sender<u64>,
    /// Set by [`Service::drain`]: no new consultation opens.
    closing: std::sync::atomic::AtomicBool,
}

struct Chunk {
    samples: Vec<f32>,
    arrived: Instant,
    /// Room this chunk took, given back once it is processed.
    permits: u32,
}

#[derive(Clone)]
struct TrackInput {
    chunks: mpsc::Sender<Chunk>,
    /// Samples (at the track's rate) that may still be queued ahead of processing.
    room: Arc<Semaphore>,
    capacity: usize,
}

pub struct Session {
    pub consultation: ConsultationId,
    pub doctor: Id,
    /// Who opened it; only they may resume it.
    owner: Principal,
    /// Sent in `started`; a resume must bring it back.
    resume_token: Zeroizing<String>,
    /// When the consultation was opened (the first `start`).
    pub opened: SystemTime,
    tracks: Vec<TrackSpec>,
    /// `None` once the session stopped taking audio.
    inputs: Mutex<Option<Vec<TrackInput>>>,
    /// Samples queued per track, for the lag metric.
    queued: Vec<Arc<AtomicUsize>>,
    state: Mutex<State>,
    /// Bumped whenever the log or the partials change; connections wait on it.
    version: watch::Sender<u64>,
    stop_signal: Notify,
    /// Set once anyone asked to be shown interim drafts: until then none are made.
    interim_wanted: std::sync::atomic::AtomicBool,
}

struct State {
    next_sequence: Vec<u32>,
    /// Every event a client must see, in order; a resumed connection gets it again from the start.
    log: Vec<ServerMessage>,
    /// The latest uncommitted text per track.
    partials: Vec<Option<Piece>>,
    /// Which connection owns the session; an older one is closed when a newer one resumes.
    connection: u64,
    last_activity: Instant,
    stopped_at: Option<Instant>,
    finished: bool,
    /// The committed text per track, as shown during the call, each with its commit number.
    shown: Vec<Vec<Segment>>,
    shown_numbers: Vec<Vec<u32>>,
    commits: u32,
    /// The latest draft of the text committed so far, while the call goes on.
    interim: Option<Arc<Interim>>,
}

/// A draft made during the call from the text committed so far (never from tentative text),
/// by the same drafter and verifier as the draft at hang-up. Memory only.
#[derive(Debug)]
pub struct Interim {
    /// How many commits it was drafted from; a newer interim draft has more.
    pub commits: u32,
    pub draft: note::Draft,
    /// For each segment of the transcript it was drafted from (which its evidence indexes), the
    /// commit number of that segment in the event log.
    pub commit_of_segment: Vec<u32>,
}

/// Where a consultation in memory is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Taking audio.
    Recording,
    /// Stopped; the tracks are flushing and the draft is being made.
    Finishing,
    /// `draft_ready` is in the log.
    Finished,
}

/// What a connection gets from [`Service::open`].
pub(crate) struct Opened {
    pub session: Arc<Session>,
    pub connection: u64,
    pub greeting: ServerMessage,
}

impl Service {
    pub fn new(
        settings: Settings,
        decoding: Arc<dyn Decode>,
        drafter: Option<Arc<note::Drafter>>,
        sink: Arc<dyn Sink>,
    ) -> Arc<Service> {
        let metrics = Arc::new(Metrics::default());
        let decoder = Decoder::new(decoding, metrics.clone());
        Arc::new(Service {
            settings,
            metrics,
            decoder,
            drafter,
            sink,
            sessions: Mutex::new(HashMap::new()),
            openings: watch::channel(0).0,
            closing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Where the service's steps are recorded; the HTTP layer reports refused connections here.
    pub(crate) fn sink(&self) -> &dyn Sink {
        self.sink.as_ref()
    }

    /// Every consultation in memory: live, finishing, or finished and kept for `keep_finished`.
    pub fn consultations(&self) -> Vec<Arc<Session>> {
        self.sessions().values().cloned().collect()
    }

    pub fn consultation(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions().get(id).cloned()
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sessions not yet finished, and the most audio (s) any of their tracks has queued.
    pub fn load(&self) -> (usize, f64) {
        let sessions = self.sessions();
        let active: Vec<_> = sessions.values().filter(|s| !s.state().finished).collect();
        let lag = active
            .iter()
            .flat_map(|s| {
                s.queued.iter().zip(&s.tracks).map(|(q, t)| q.load(Ordering::Relaxed) as f64 / t.sample_rate as f64)
            })
            .fold(0.0, f64::max);
        (active.len(), lag)
    }

    /// Changes whenever a consultation opens.
    pub fn openings(&self) -> watch::Receiver<u64> {
        self.openings.subscribe()
    }

    /// Stops every consultation still taking audio and waits until each has its draft stored:
    /// what a shutdown does before the process exits.
    pub async fn drain(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let sessions = self.consultations();
        for session in &sessions {
            session.stop("shutdown");
        }
        for session in sessions {
            let mut version = session.subscribe();
            while session.phase() != Phase::Finished {
                if version.changed().await.is_err() {
                    break;
                }
            }
        }
    }

    /// Opens a consultation for `principal`, or resumes the one with this id if `principal`
    /// opened it and `start` carries its resume token.
    pub(crate) fn open(self: &Arc<Self>, start: Start, principal: &Principal) -> Result<Opened, ServerMessage> {
        let (consultation, doctor) = start.ids()?;
        let opening = Opening { consultation: &consultation, doctor: &doctor, principal };
        if matches!(principal, Principal::Doctor(signed_in) if *signed_in != doctor) {
            // A doctor's browser speaks for the doctor signed in, never for a colleague.
            self.sink.refused(opening, Refusal::NotOwner);
            return Err(error(
                ErrorCode::NotOwner,
                "a doctor's browser can only start consultations as the doctor signed in",
            ));
        }
        if !start.consent {
            self.sink.refused(opening, Refusal::ConsentMissing);
            return Err(error(
                ErrorCode::ConsentRequired,
                "the start message lacks \"consent\": true; without the patient's consent nothing is recorded or stored",
            ));
        }
        start.validate_tracks()?;
        if let Some(session) = self.consultation(consultation.as_str()) {
            return session.resume(&self.sink, opening, &start);
        }
        if self.closing.load(Ordering::SeqCst) {
            return Err(error(ErrorCode::ShuttingDown, "the server is shutting down; start the call again shortly"));
        }
        let mut pipelines = Vec::new();
        for (index, track) in start.tracks.iter().enumerate() {
            let pipeline = TrackPipeline::new(
                &self.settings.models_dir,
                index,
                track.role,
                track.sample_rate,
                self.settings.interim_every,
            )
            .map_err(|e| error(ErrorCode::BadStart, format!("track {}: {e}", track.id)))?;
            pipelines.push(pipeline);
        }
        let mut inputs = Vec::new();
        let mut receivers = Vec::new();
        let mut queued = Vec::new();
        for track in &start.tracks {
            let (chunks, rx) = mpsc::channel(1024);
            let capacity = (self.settings.max_buffered_seconds * track.sample_rate as f64) as usize;
            let capacity = capacity.max(self.max_frame_samples());
            inputs.push(TrackInput { chunks, room: Arc::new(Semaphore::new(capacity)), capacity });
            receivers.push(rx);
            queued.push(Arc::new(AtomicUsize::new(0)));
        }
        let n = start.tracks.len();
        let resume_token = secrets::token().map_err(|e| error(ErrorCode::Unavailable, e.to_string()))?;
        let session = Arc::new(Session {
            consultation: consultation.clone(),
            doctor: doctor.clone(),
            owner: principal.clone(),
            resume_token,
            opened: SystemTime::now(),
            tracks: start.tracks.clone(),
            inputs: Mutex::new(Some(inputs.clone())),
            queued,
            state: Mutex::new(State {
                next_sequence: vec![0; n],
                log: Vec::new(),
                partials: vec![None; n],
                connection: 0,
                last_activity: Instant::now(),
                stopped_at: None,
                finished: false,
                shown: vec![Vec::new(); n],
                shown_numbers: vec![Vec::new(); n],
                commits: 0,
                interim: None,
            }),
            version: watch::channel(0).0,
            stop_signal: Notify::new(),
            interim_wanted: Default::default(),
        });
        {
            // Checked and taken under one lock, so two starts cannot both take the last place.
            let mut sessions = self.sessions();
            if let Some(existing) = sessions.get(consultation.as_str()).cloned() {
                // Another connection opened the same consultation a moment ago.
                drop(sessions);
                return existing.resume(&self.sink, opening, &start);
            }
            if sessions.values().filter(|s| !s.state().finished).count() >= self.settings.max_sessions {
                return Err(error(
                    ErrorCode::Busy,
                    format!("the server already runs {} consultations; try again shortly", self.settings.max_sessions),
                ));
            }
            sessions.insert(consultation.as_str().to_owned(), session.clone());
        }
        // Audited before any audio is taken; an id the vault already holds is refused.
        if let Err(e) = self.sink.open(opening) {
            self.sessions().remove(consultation.as_str());
            let code = match e {
                storage::Error::Exists(_) => ErrorCode::ConsultationExists,
                _ => ErrorCode::Unavailable,
            };
            return Err(error(code, e.to_string()));
        }
        self.openings.send_modify(|v| *v += 1);
        self.metrics.sessions_started.fetch_add(1, Ordering::Relaxed);
        let mut tracks = Vec::new();
        for (index, ((pipeline, rx), input)) in pipelines.into_iter().zip(receivers).zip(inputs).enumerate() {
            tracks.push(tokio::spawn(run_track(
                session.clone(),
                index,
                pipeline,
                rx,
                input.room,
                self.decoder.clone(),
                self.metrics.clone(),
            )));
        }
        tokio::spawn(drive(self.clone(), session.clone(), tracks));
        if let (Some(drafter), Some(every)) = (self.drafter.clone(), self.settings.interim_draft_every) {
            tokio::spawn(draft_while_recording(self.clone(), session.clone(), drafter, every));
        }
        Ok(Opened {
            greeting: ServerMessage::Started {
                consultation: consultation.to_string(),
                next_sequence: vec![0; n],
                resume_token: session.resume_token.to_string(),
            },
            session,
            connection: 0,
        })
    }

    fn max_frame_samples(&self) -> usize {
        self.settings.max_frame_bytes / 2
    }
}

impl Session {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    fn resume(
        self: &Arc<Self>,
        sink: &Arc<dyn Sink>,
        opening: Opening<'_>,
        start: &Start,
    ) -> Result<Opened, ServerMessage> {
        let token = start.resume_token.as_deref().unwrap_or_default();
        if &self.owner != opening.principal
            || &self.doctor != opening.doctor
            || !secrets::same(token.as_bytes(), self.resume_token.as_bytes())
        {
            // Nothing of the consultation goes to whoever this is, and the attempt is on record.
            sink.refused(opening, Refusal::NotOwner);
            return Err(error(
                ErrorCode::NotOwner,
                format!(
                    "consultation {} is open by another client; only the client that started it can resume it, with the resume_token from its started event",
                    self.consultation
                ),
            ));
        }
        if start.tracks != self.tracks {
            return Err(error(
                ErrorCode::SessionMismatch,
                "this consultation is already open with other tracks; resume with exactly the original track list",
            ));
        }
        let mut state = self.state();
        state.connection += 1;
        state.last_activity = Instant::now();
        let greeting = ServerMessage::Resumed {
            consultation: self.consultation.to_string(),
            next_sequence: state.next_sequence.clone(),
        };
        let connection = state.connection;
        drop(state);
        sink.resumed(opening);
        // Wakes the superseded connection so it closes.
        self.changed();
        Ok(Opened { session: self.clone(), connection, greeting })
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    pub fn phase(&self) -> Phase {
        let state = self.state();
        match (state.finished, state.stopped_at) {
            (true, _) => Phase::Finished,
            (false, Some(_)) => Phase::Finishing,
            (false, None) => Phase::Recording,
        }
    }

    /// Events from `cursor` on and each track's current tentative text, for an onlooker: unlike
    /// `pending` it leaves the partials for the ingest connection.
    pub fn snapshot(&self, cursor: usize) -> (Vec<ServerMessage>, Vec<Piece>) {
        let state = self.state();
        let events = state.log.get(cursor..).unwrap_or_default().to_vec();
        (events, state.partials.iter().flatten().cloned().collect())
    }

    /// Asks for interim drafts from now on (a connection or an onlooker that shows them).
    pub fn want_interim(&self) {
        self.interim_wanted.store(true, Ordering::Relaxed);
    }

    /// The latest draft of the text committed so far, if one was made.
    pub fn interim(&self) -> Option<Arc<Interim>> {
        self.state().interim.clone()
    }

    /// The committed text so far as a transcript, with each segment's commit number; `None`
    /// when nothing new was committed since `after` commits.
    fn committed_since(&self, after: u32, language: &str) -> Option<(u32, Transcript, Vec<u32>)> {
        let state = self.state();
        if state.commits == after || state.stopped_at.is_some() {
            return None;
        }
        let mut numbered: Vec<(u32, Segment)> =
            state.shown_numbers.iter().flatten().copied().zip(state.shown.iter().flatten().cloned()).collect();
        let commits = state.commits;
        drop(state);
        // In time order, as Transcript::merge orders them, so evidence indexes match.
        numbered.sort_by(|a, b| a.1.start.total_cmp(&b.1.start).then(a.1.track.cmp(&b.1.track)));
        let duration = numbered.iter().map(|(_, s)| s.end).fold(0.0, f64::max);
        let (numbers, segments): (Vec<u32>, Vec<Segment>) = numbered.into_iter().unzip();
        let transcript = Transcript::merge(language, duration, vec![segments]);
        Some((commits, transcript, numbers))
    }

    /// Events from `cursor` on and the pending partials, or `None` when `connection` is superseded.
    pub(crate) fn pending(&self, connection: u64, cursor: usize) -> Option<(Vec<ServerMessage>, Vec<Piece>)> {
        let mut state = self.state();
        if state.connection != connection {
            return None;
        }
        let events = state.log.get(cursor..).unwrap_or_default().to_vec();
        let partials = state.partials.iter_mut().filter_map(Option::take).collect();
        Some((events, partials))
    }

    /// Takes one binary frame from connection `connection`. Protocol problems come back as the
    /// event to send; gaps and duplicates go to the log.
    pub(crate) async fn accept_frame(
        &self,
        service: &Service,
        connection: u64,
        bytes: &[u8],
    ) -> Result<(), ServerMessage> {
        let Some((track, sequence, payload)) = parse_frame(bytes) else {
            return Err(error(
                ErrorCode::BadFrame,
                "a binary frame starts with 1 byte track index and 4 bytes LE sequence number",
            ));
        };
        let Some(spec) = self.tracks.get(track) else {
            return Err(error(
                ErrorCode::UnknownTrack,
                format!("track index {track}: the start message declared {} tracks", self.tracks.len()),
            ));
        };
        if payload.len() > service.settings.max_frame_bytes {
            return Err(error(
                ErrorCode::FrameTooLarge,
                format!(
                    "frame of {} bytes exceeds the limit of {}; send smaller frames (20–200 ms)",
                    payload.len(),
                    service.settings.max_frame_bytes
                ),
            ));
        }
        let Some(mut samples) = spec.encoding.decode(payload) else {
            return Err(error(
                ErrorCode::BadFrame,
                format!("{} bytes is not a whole number of {:?} samples", payload.len(), spec.encoding),
            ));
        };
        let input = {
            let mut state = self.state();
            if state.connection != connection {
                return Err(error(ErrorCode::Superseded, "another connection resumed this consultation"));
            }
            let Some(input) = self.inputs.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|i| i[track].clone())
            else {
                return Err(error(ErrorCode::Stopped, "this consultation has stopped; it takes no more audio"));
            };
            let expected = state.next_sequence[track];
            if sequence < expected {
                state.log.push(ServerMessage::Duplicate { track, sequence, expected });
                service.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                drop(state);
                self.changed();
                return Ok(());
            }
            let Some(next) = sequence.checked_add(1) else {
                return Err(error(
                    ErrorCode::BadFrame,
                    format!("track {track}: sequence {sequence} is the last there is; start a new consultation"),
                ));
            };
            if sequence > expected {
                // Checked before anything is allocated: the gap comes from the client.
                let missing = u64::from(sequence - expected).saturating_mul(samples.len() as u64);
                let silence_seconds = missing as f64 / spec.sample_rate as f64;
                if silence_seconds > service.settings.idle_timeout.as_secs_f64() {
                    return Err(error(
                        ErrorCode::GapTooLarge,
                        format!(
                            "track {track}: sequence jumps from {expected} to {sequence}, {silence_seconds:.0} s of missing audio; resend from {expected}"
                        ),
                    ));
                }
                state.log.push(ServerMessage::Gap { track, expected, got: sequence, silence_seconds });
                service.metrics.gaps.fetch_add(1, Ordering::Relaxed);
                let mut filled = vec![0.0; missing as usize];
                filled.append(&mut samples);
                samples = filled;
            }
            state.next_sequence[track] = next;
            state.last_activity = Instant::now();
            input
        };
        self.changed();
        service.metrics.audio_in(samples.len() as f64 / spec.sample_rate as f64);
        // Backpressure: wait for room rather than drop audio, so a client sending faster than
        // transcription keeps up is slowed down by TCP instead.
        // A gap filled with silence may exceed the whole room; it then takes all of it.
        let permits = samples.len().min(input.capacity) as u32;
        if let Ok(taken) = input.room.acquire_many(permits).await {
            taken.forget();
        }
        self.queued[track].fetch_add(samples.len(), Ordering::Relaxed);
        if input.chunks.send(Chunk { samples, arrived: Instant::now(), permits }).await.is_err() {
            return Err(error(ErrorCode::Stopped, "this consultation has stopped; it takes no more audio"));
        }
        Ok(())
    }

    /// Stops taking audio; the tracks flush and the draft follows.
    pub(crate) fn stop(&self, reason: &str) {
        let Some(inputs) = self.inputs.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
        drop(inputs);
        let mut state = self.state();
        state.stopped_at = Some(Instant::now());
        state.log.push(ServerMessage::Stopped { reason: reason.into() });
        drop(state);
        self.stop_signal.notify_one();
        self.changed();
    }

    fn publish(&self, outputs: Vec<Output>, metrics: &Metrics) {
        if outputs.is_empty() {
            return;
        }
        let mut state = self.state();
        for output in outputs {
            match output {
                Output::Committed { mut segment, latency } => {
                    metrics.commit_latency(latency);
                    state.partials[segment.track] = None;
                    // The doctor's microphone hearing the patient: shown only on the patient's
                    // track. The patient's pass for the same speech ends first, so it is usually
                    // committed by now; what slips through is still taken out of the kept transcript.
                    if segment.speaker == Role::Doctor
                        && transcript::take_out_echo(&mut segment, state.shown.iter().flatten()) > 0
                        && segment.text.is_empty()
                    {
                        continue;
                    }
                    let number = state.commits;
                    state.commits += 1;
                    state.log.push(ServerMessage::Committed(Piece {
                        track: segment.track,
                        speaker: segment.speaker,
                        segment: Some(number),
                        start: segment.start,
                        end: segment.end,
                        text: segment.text.clone(),
                        is_final: true,
                    }));
                    state.shown_numbers[segment.track].push(number);
                    state.shown[segment.track].push(segment);
                }
                Output::Partial(piece) => {
                    let track = piece.track;
                    state.partials[track] = Some(piece);
                }
            }
        }
        drop(state);
        self.changed();
    }

    fn report(&self, event: ServerMessage, metrics: &Metrics) {
        metrics.error();
        self.state().log.push(event);
        self.changed();
    }
}

/// One track's task: audio in, text to show out, until the session stops; then the track's
/// seconds of audio and the segments its transcript keeps (`None` when transcription failed).
async fn run_track(
    session: Arc<Session>,
    index: usize,
    mut pipeline: TrackPipeline,
    mut chunks: mpsc::Receiver<Chunk>,
    room: Arc<Semaphore>,
    decoder: Decoder,
    metrics: Arc<Metrics>,
) -> (f64, Option<Vec<Segment>>) {
    let mut failed = false;
    while let Some(chunk) = chunks.recv().await {
        let n = chunk.samples.len();
        if !failed {
            match pipeline.push(&chunk.samples, chunk.arrived, &decoder).await {
                Ok(outputs) => session.publish(outputs, &metrics),
                Err(e) => {
                    // The track is lost from here on, but its queue keeps draining so the
                    // client is never stuck waiting for room.
                    failed = true;
                    tracing::error!(consultation = %session.consultation, track = index, "transcription failed: {e}");
                    session.report(error(ErrorCode::TranscriptionFailed, format!("track {index}: {e}")), &metrics);
                }
            }
        }
        session.queued[index].fetch_sub(n, Ordering::Relaxed);
        room.add_permits(chunk.permits as usize);
    }
    let seconds = pipeline.seconds();
    if failed {
        return (seconds, None);
    }
    match pipeline.finish(&decoder).await {
        Ok(finished) => {
            session.publish(finished.outputs, &metrics);
            (seconds, Some(finished.segments))
        }
        Err(e) => {
            session.report(error(ErrorCode::TranscriptionFailed, format!("track {index}: {e}")), &metrics);
            (seconds, None)
        }
    }
}

/// Drafts the committed text every `every` while the call goes on, when something new was
/// committed. The drafter runs on the blocking pool, off the Whisper worker's thread, so a draft
/// never holds up a decoding pass; a failed draft keeps the previous one.
async fn draft_while_recording(
    service: Arc<Service>,
    session: Arc<Session>,
    drafter: Arc<note::Drafter>,
    every: Duration,
) {
    let mut drafted = 0;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if session.phase() != Phase::Recording {
            return;
        }
        if !session.interim_wanted.load(Ordering::Relaxed) {
            continue;
        }
        let Some((commits, transcript, commit_of_segment)) =
            session.committed_since(drafted, &service.settings.language)
        else {
            continue;
        };
        let drafter = drafter.clone();
        let began = Instant::now();
        let made = tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drafter.draft(&transcript))).ok()
        })
        .await;
        service.metrics.interim_draft(began.elapsed().as_secs_f64());
        drafted = commits;
        if let Ok(Some(Ok(draft))) = made {
            let mut state = session.state();
            if state.stopped_at.is_none() {
                state.interim = Some(Arc::new(Interim { commits, draft, commit_of_segment }));
                drop(state);
                session.changed();
            }
        }
    }
}

/// A session's life after start: waits for stop or the idle timeout, then builds the final
/// transcript and the draft, and finally forgets the session.
async fn drive(
    service: Arc<Service>,
    session: Arc<Session>,
    tracks: Vec<tokio::task::JoinHandle<(f64, Option<Vec<Segment>>)>>,
) {
    let idle = service.settings.idle_timeout;
    loop {
        let since = session.state().last_activity;
        let deadline = tokio::time::Instant::from_std(since + idle);
        tokio::select! {
            _ = session.stop_signal.notified() => break,
            _ = tokio::time::sleep_until(deadline) => {
                if session.state().last_activity.elapsed() >= idle {
                    session.stop("idle_timeout");
                    break;
                }
            }
        }
    }
    let mut duration: f64 = 0.0;
    let mut kept = Vec::new();
    for (index, track) in tracks.into_iter().enumerate() {
        match track.await {
            Ok((seconds, segments)) => {
                duration = duration.max(seconds);
                kept.push(segments);
            }
            Err(e) => {
                session.report(
                    error(ErrorCode::TranscriptionFailed, format!("track {index} crashed: {e}")),
                    &service.metrics,
                );
                kept.push(None);
            }
        }
    }
    // A track whose window passes failed keeps at least the text that was shown of it.
    let shown = std::mem::take(&mut session.state().shown);
    let mut segments: Vec<_> = kept.into_iter().zip(shown).map(|(kept, shown)| kept.unwrap_or(shown)).collect();
    // As the offline transcription does (`asr::transcribe`), so the two stay one transcript.
    transcript::remove_echo(&mut segments);
    let transcript = Transcript::merge(&service.settings.language, duration, segments);
    let (transcript, draft, draft_error) = finish(&service, &session, transcript).await;
    if draft_error.is_some() {
        service.metrics.error();
    }
    {
        let mut state = session.state();
        if let Some(stopped) = state.stopped_at {
            service.metrics.hangup_to_draft(stopped.elapsed().as_secs_f64());
        }
        state.log.push(ServerMessage::DraftReady {
            consultation: session.consultation.to_string(),
            transcript: Box::new(transcript),
            draft: draft.map(Box::new),
            draft_error,
        });
        state.finished = true;
    }
    service.metrics.drafts_produced.fetch_add(1, Ordering::Relaxed);
    session.changed();
    tokio::time::sleep(service.settings.keep_finished).await;
    let mut sessions = service.sessions();
    if sessions.get(session.consultation.as_str()).is_some_and(|s| Arc::ptr_eq(s, &session)) {
        sessions.remove(session.consultation.as_str());
    }
}

/// Drafts the note and hands transcript and draft to the sink, off the async threads. What the
/// client then gets depends on what the sink managed: everything when it was recorded (stored
/// or not: the error says which), nothing of the text when it could not even be recorded.
async fn finish(
    service: &Service,
    session: &Session,
    transcript: Transcript,
) -> (Transcript, Option<note::Draft>, Option<String>) {
    let drafter = service.drafter.clone();
    let sink = service.sink.clone();
    let (consultation, doctor) = (session.consultation.clone(), session.doctor.clone());
    let language = service.settings.language.clone();
    let work = tokio::task::spawn_blocking(move || {
        // A drafter that panics costs the draft, never the transcript.
        let drafted = drafter.map(|drafter| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drafter.draft(&transcript)))
                .unwrap_or_else(|_| Err("the note model crashed".into()))
        });
        let (draft, draft_error) = match drafted {
            None => (None, None),
            Some(Ok(draft)) => (Some(draft), None),
            Some(Err(e)) => (None, Some(e)),
        };
        let finished = storage::Finished { consultation, doctor, transcript, draft };
        match sink.keep(&finished) {
            Ok(()) => (finished.transcript, finished.draft, draft_error),
            Err(e @ KeepError::NotStored(_)) => {
                tracing::error!(consultation = %finished.consultation, "{e}");
                (finished.transcript, finished.draft, Some(e.to_string()))
            }
            Err(e @ KeepError::NotAudited(_)) => {
                tracing::error!(consultation = %finished.consultation, "{e}");
                (Transcript::merge(&language, 0.0, Vec::new()), None, Some(e.to_string()))
            }
        }
    });
    match work.await {
        Ok(done) => done,
        Err(e) => (
            Transcript::merge(&service.settings.language, 0.0, Vec::new()),
            None,
            Some(format!("drafting crashed: {e}")),
        ),
    }
}

/// Used by [`Settings::default`]: a forgotten session is finalised after this long without audio.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(120);
