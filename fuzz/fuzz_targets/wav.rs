//! `audio::read_wav_from` on any bytes: `transcribe`, `draft`, `eval` and `replay` read WAV
//! files a user hands them. Every input must end in a recording or an error, never a panic or an
//! allocation the header alone decides.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = audio::read_wav_from(data, "fuzz.wav");
});
