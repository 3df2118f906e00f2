//! `autonotar replay <file.wav>`: streams a recording to a running service as a live
//! consultation (channel 0 the doctor, 1 the patient), printing committed text as it comes and
//! the draft at the end. Exits 0 only when the draft arrived.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use server::protocol::ServerMessage;

#[derive(Args)]
pub struct ReplayArgs {
    /// WAV file, one channel per participant, any rate from 8 to 48 kHz.
    pub input: PathBuf,
    /// The service: ws://HOST:PORT or http://HOST:PORT (the /v1/ingest path is added).
    #[arg(long, default_value = "ws://127.0.0.1:8470")]
    pub server: String,
    /// Playback speed: 1 is real time, 4 four times faster, 0 as fast as the server takes it.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Consultation id (default: replay-<file name>-<process id>).
    #[arg(long)]
    pub consultation: Option<String>,
    #[arg(long, default_value = "replay")]
    pub doctor: String,
    /// Milliseconds of audio per frame.
    #[arg(long, default_value_t = 100)]
    pub frame_ms: u32,
    /// Also print partial (uncommitted) text.
    #[arg(long)]
    pub partials: bool,
    /// Ask for and print the interim drafts: the note drafted from the text committed so far.
    #[arg(long)]
    pub interim_draft: bool,
    /// Cut the connection abruptly after this many frames per track, then resume (tests the service).
    #[arg(long, value_name = "FRAMES")]
    pub drop_connection_after: Option<u32>,
    /// Seconds to wait for the draft after stop.
    #[arg(long, default_value_t = 120)]
    pub draft_timeout: u64,
    /// The ingest key (`autonotar ingest-key create NAME` prints one). Prefer the environment
    /// variable: a command line is visible to other users of the machine.
    #[arg(long, env = "AUTONOTAR_INGEST_KEY", hide_env_values = true)]
    pub key: Option<String>,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let Some(key) = args.key else {
        anyhow::bail!(
            "no ingest key: set AUTONOTAR_INGEST_KEY (or pass --key) to a key from `autonotar ingest-key create NAME`"
        );
    };
    let recording = audio::read_wav(&args.input)?;
    let stem = args.input.file_stem().map_or("recording".into(), |s| s.to_string_lossy().into_owned());
    let replay = server::client::Replay {
        url: ingest_url(&args.server),
        key: key.into(),
        consultation: args.consultation.unwrap_or_else(|| format!("replay-{stem}-{}", std::process::id())),
        doctor: args.doctor,
        speed: args.speed.max(0.0),
        frame_ms: args.frame_ms.clamp(10, 1000),
        tracks: server::client::tracks_of(recording),
        drop_after: args.drop_connection_after,
        draft_timeout: Duration::from_secs(args.draft_timeout),
        interim_draft: args.interim_draft,
    };
    let partials = args.partials;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = runtime.block_on(replay.run(&mut |event| print_event(event, partials)))?;
    let mut latencies = report.commit_latencies.clone();
    latencies.sort_by(f64::total_cmp);
    let quantile =
        |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
    eprintln!(
        "replay: {} commits, commit latency p50 {:.2} s p95 {:.2} s, hang-up to draft {:.2} s, {} reconnect(s)",
        latencies.len(),
        quantile(0.5),
        quantile(0.95),
        report.hangup_to_draft,
        report.reconnects
    );
    Ok(if report.draft().is_some() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `ws://host:port/v1/ingest` from whatever form of the address the user gave.
fn ingest_url(server: &str) -> String {
    let base = server.trim_end_matches('/');
    let base = match base.split_once("://") {
        Some(("http", rest)) => format!("ws://{rest}"),
        Some(("https", rest)) => format!("wss://{rest}"),
        Some(_) => base.to_string(),
        None => format!("ws://{base}"),
    };
    if base.ends_with("/v1/ingest") { base } else { format!("{base}/v1/ingest") }
}

fn print_event(event: &ServerMessage, partials: bool) {
    let clock = |t: f64| format!("{:02}:{:02}", (t / 60.0) as u64, t as u64 % 60);
    match event {
        ServerMessage::Committed(p) => println!("[{}] {}: {}", clock(p.start), p.speaker.danish(), p.text),
        ServerMessage::Partial(p) if partials => {
            println!("[{}] {} (foreløbig): {}", clock(p.start), p.speaker.danish(), p.text)
        }
        ServerMessage::InterimDraft { commits, draft } => {
            println!("--- Kladde (foreløbig), fra {commits} afsnit ---\n{}---", draft.note_text())
        }
        ServerMessage::Gap { track, expected, got, .. } => {
            eprintln!("gap on track {track}: frames {expected}..{got} missing")
        }
        ServerMessage::Duplicate { track, sequence, .. } => {
            eprintln!("duplicate frame {sequence} on track {track} dropped")
        }
        ServerMessage::Error { code, message } => eprintln!("server error {code:?}: {message}"),
        ServerMessage::DraftReady { transcript, draft, draft_error, .. } => {
            // The kept transcript can differ from the text committed live: it is decoded in
            // whole windows, as `autonotar transcribe` decodes.
            println!("--- transcript ---");
            print!("{}", transcript.to_txt());
            println!("--- draft ---");
            match (draft, draft_error) {
                (Some(draft), _) => println!("{}", serde_json::to_string_pretty(draft).unwrap_or_default()),
                (None, Some(e)) => eprintln!("no draft: {e}"),
                (None, None) => eprintln!("no draft: the service drafts no notes"),
            }
        }
        _ => {}
    }
}
