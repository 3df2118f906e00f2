//! `autonotar.toml` as `Config::load` reads it: parsed and checked. A typo must come back as an
//! error naming the key, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = autonotar::config::Config::parse(text);
    }
});
