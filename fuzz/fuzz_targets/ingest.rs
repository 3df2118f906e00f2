//! The ingest protocol's parsers; the body and what it covers: `server::fuzzing`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    server::fuzzing::client_message(data);
});
