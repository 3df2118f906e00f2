//! The audit log's readers on tampered logs; the body and what it covers: `audit::fuzzing`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    audit::fuzzing::tampered_log(data);
});
