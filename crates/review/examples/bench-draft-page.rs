//! How long the draft page of a 15-minute consultation takes to serve: session check, vault
//! reads and decryption of review record, draft and transcript, the fsynced audit record, and
//! rendering. Figures go in docs/PERFORMANCE.md ("Review app").
//!
//! ```text
//! cargo run -p review --example bench-draft-page
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use audit::{AuditConfig, AuditLog, Id};
use axum::body::Body;
use axum::http::{Request, header};
use review::{LinkSecret, ReviewConfig, ReviewState};
use tower::ServiceExt;
use transcript::{Transcript, Word};

/// 15 minutes at the 150 words a minute the typed transcripts are timed at.
const WORDS: usize = 15 * 150;
const RUNS: usize = 50;

#[tokio::main]
async fn main() {
    // Utterances from the corpus, in order, until the talk lasts 15 minutes.
    let scripts = fixtures::Consultation::load_all(&fixtures::corpus_dir()).expect("corpus");
    let (mut lines, mut labels, mut words) = (String::new(), Vec::new(), 0);
    for utterance in scripts.iter().flat_map(|s| &s.utterance).cycle() {
        if words >= WORDS {
            break;
        }
        words += utterance.text.split_whitespace().count();
        lines.push_str(&format!("{}: {}\n", utterance.speaker.danish(), utterance.text));
        labels.push(utterance.label.clone());
    }
    let mut transcript = Transcript::parse_txt(&lines).expect("corpus lines parse");
    with_word_timings(&mut transcript);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let vault = vault::Vault::open(&data, vault::Kek::generate().unwrap()).unwrap();
    support::store(&vault, "k-bench", "laege-07", &transcript, labels);
    // Production settings: every audit record fsynced before the page is sent.
    let audit = AuditLog::open(&AuditConfig::default(), &data).unwrap();
    let secret = LinkSecret::generate().unwrap();
    let state = ReviewState::new(vault, Arc::new(Mutex::new(audit)), secret.clone(), ReviewConfig::default());
    let router = review::router(state);

    let link =
        review::sign_link(&secret, "", &Id::new("laege-07").unwrap(), None, SystemTime::now(), Duration::from_secs(60))
            .unwrap();
    let login = router.clone().oneshot(Request::get(link).body(Body::empty()).unwrap()).await.unwrap();
    let cookie = login.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let page = || Request::get("/review/k/k-bench").header(header::COOKIE, &cookie).body(Body::empty()).unwrap();

    let first = Instant::now();
    let response = router.clone().oneshot(page()).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
    let first = first.elapsed();
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let response = router.clone().oneshot(page()).await.unwrap();
        assert!(response.status().is_success());
        axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let statements = String::from_utf8_lossy(&bytes).matches("class=\"stmt ").count();
    println!(
        "draft page, {:.1} min consultation: {} segments, {} words, {} statements, {} KiB HTML",
        transcript.duration / 60.0,
        transcript.segments.len(),
        words,
        statements,
        bytes.len() / 1024
    );
    println!(
        "first view (makes the working copy): {:.1} ms; then {RUNS} views: median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        ms(first),
        ms(times[RUNS / 2]),
        ms(times[RUNS * 95 / 100]),
        ms(times[RUNS - 1])
    );
}

/// Word timings as Whisper gives them, every seventh word unsure: the page marks those.
fn with_word_timings(transcript: &mut Transcript) {
    let mut n = 0;
    for segment in &mut transcript.segments {
        let said: Vec<String> = segment.text.split_whitespace().map(str::to_string).collect();
        let step = (segment.end - segment.start) / said.len().max(1) as f64;
        segment.words = said
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                n += 1;
                Word {
                    text: format!(" {text}"),
                    start: segment.start + step * i as f64,
                    end: segment.start + step * (i + 1) as f64,
                    probability: if n % 7 == 0 { 0.4 } else { 0.92 },
                }
            })
            .collect();
    }
}
