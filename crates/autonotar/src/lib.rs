//! The parts of the `autonotar` command that are reached without starting it: the
//! configuration loader (for the fuzzer and the tests) and the listener `serve` runs on. The
//! subcommands themselves live in the binary (`main.rs` and its `*_cmd` modules).

pub mod config;
pub mod listen;
