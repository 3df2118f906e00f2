//! Danish text as Autonotar reads it, in one place for the drafter and the research harness:
//! number words ([`numbers`]), the drafter's tokens with spoken numbers as values
//! ([`tokenize`]), the normaliser every text metric runs through ([`normalise`]), and which
//! words are Danish at all ([`Words`]). Two readers of "otteogtredive komma fem" that
//! disagreed would score the drafter on numbers it did not write.

pub mod normalise;
pub mod numbers;
mod tokens;
mod words;

pub use normalise::{normalise, normalise_to_string};
pub use tokens::{Token, danish_number, pressure_text, tokenize};
pub use words::{SYSTEM_DICTIONARY, Words, WordsError};
