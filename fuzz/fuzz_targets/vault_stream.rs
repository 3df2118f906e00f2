//! The vault's artefact reader on changed files; the body and what it covers: `vault::fuzzing`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vault::fuzzing::tampered_artefact(data);
});
