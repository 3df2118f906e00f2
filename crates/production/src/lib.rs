//! The production pipeline as the research harness runs it (`autonotar eval`): the offline path
//! of `transcribe` and `draft` (`asr::transcribe_recorded`, `note::Drafter`) and, for
//! `--streaming`, the live service of `serve` itself on a loopback port in this process. It
//! implements `eval::Pipeline`, so the harness measures exactly the code a clinic runs.

mod live;

use std::path::PathBuf;
use std::sync::Mutex;

use eval::{AsrMode, Audio, ConsultationInput, Pipeline, PipelineError, TranscriptRun};
use transcript::{Role, Transcript};

pub use live::LiveService;

/// The production pipeline: the same offline path as `transcribe` and `draft`, and with
/// `--streaming` the live service of `serve`.
pub struct Production {
    /// Offline, Whisper decodes one window at a time, whatever `--jobs` says: two at once on two
    /// cores slow each other down badly. (With `--streaming` and `--jobs` > 1 the live service's
    /// decoder runs beside this one.)
    recognizer: Option<Mutex<asr::Recognizer>>,
    live: Option<LiveService>,
    drafter: note::Drafter,
    models_dir: PathBuf,
    description: String,
}

impl Production {
    /// Offline: `recognizer` transcribes (`None` when only the note stage runs), `drafter`
    /// drafts; `description` goes into the run's header.
    pub fn new(
        recognizer: Option<asr::Recognizer>,
        drafter: note::Drafter,
        models_dir: PathBuf,
        description: String,
    ) -> Production {
        Production { recognizer: recognizer.map(Mutex::new), live: None, drafter, models_dir, description }
    }

    /// Also through the live service, for `AsrMode::Streaming`.
    pub fn with_streaming(mut self, live: LiveService) -> Production {
        self.live = Some(live);
        self
    }
}

impl Pipeline for Production {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn transcribe(&self, input: &ConsultationInput, mode: AsrMode) -> Result<TranscriptRun, PipelineError> {
        let tracks = recorded(&input.audio)?;
        if let AsrMode::Streaming = mode {
            let live = self.live.as_ref().ok_or("the streaming path runs only with --streaming")?;
            return live.transcribe(tracks);
        }
        let recognizer = self.recognizer.as_ref().ok_or("transcription runs only with the asr stage")?;
        let recognizer = recognizer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let transcript = asr::transcribe_recorded(&tracks, &self.models_dir, &recognizer, &mut |_, _| {})?;
        Ok(TranscriptRun { transcript, after_hangup_seconds: None })
    }

    fn draft(&self, _input: &ConsultationInput, transcript: &Transcript) -> Result<eval::Draft, PipelineError> {
        let draft = self.drafter.draft(transcript)?;
        Ok(eval::Draft {
            sections: draft
                .sections
                .iter()
                .map(|s| eval::DraftSection {
                    heading: s.heading.clone(),
                    statements: s
                        .statements
                        .iter()
                        .map(|st| eval::Statement { text: st.text.clone(), evidence: st.evidence.segments.clone() })
                        .collect(),
                })
                .collect(),
            // Without "Til lægens opmærksomhed": what was dropped is not in the note.
            rendered: draft.note_text(),
        })
    }
}

/// Every participant's track of a corpus entry: a channel of one WAV (its role from the
/// manifest, else by position) or the first channel of its own file.
fn recorded(audio: &Audio) -> Result<Vec<asr::Recorded>, PipelineError> {
    match audio {
        Audio::Multichannel { path, roles } => {
            let recording = audio::read_wav(path)?;
            let roles: Vec<Role> = (0..recording.channels.len())
                .map(|i| roles.get(i).copied().unwrap_or_else(|| Role::for_channel(i)))
                .collect();
            Ok(asr::Recorded::channels(recording, &roles))
        }
        Audio::Tracks(files) => files
            .iter()
            .map(|file| {
                let recording = audio::read_wav(&file.path)?;
                let sample_rate = recording.sample_rate;
                let samples = recording.channels.into_iter().next().ok_or("a track file without audio")?;
                Ok(asr::Recorded { role: file.role, sample_rate, samples })
            })
            .collect(),
    }
}
