//! The body of the `ingest` fuzz target (fuzz/fuzz_targets/ingest.rs), kept here so the
//! committed corpus and every crash found are replayed by the ordinary tests too
//! (crates/autonotar/tests/fuzz_regressions.rs). Built only with the `fuzzing` feature.
//!
//! What a client sends `/v1/ingest` before the session logic sees it: text messages parsed as
//! `start`/`stop` and the start's ids and tracks checked, binary frames split and decoded in both
//! encodings. The first input byte picks text or binary, as the WebSocket opcode does.

use crate::protocol::{ClientMessage, Encoding, parse_frame};

/// One fuzz input: see the module documentation.
pub fn client_message(data: &[u8]) {
    let Some((&opcode, body)) = data.split_first() else { return };
    if opcode & 1 == 0 {
        let Ok(text) = std::str::from_utf8(body) else { return };
        if let Ok(ClientMessage::Start(start)) = serde_json::from_str::<ClientMessage>(text) {
            let _ = start.ids();
            let _ = start.validate_tracks();
        }
    } else if let Some((_track, _sequence, payload)) = parse_frame(body) {
        let _ = Encoding::PcmS16le.decode(payload);
        let _ = Encoding::F32le.decode(payload);
    }
}
