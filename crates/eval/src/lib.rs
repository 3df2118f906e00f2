//! The evaluation harness: runs the pipeline over a corpus of consultations and measures
//! transcription (WER/CER after a Danish normaliser), note quality (fact recall, statement
//! support, section placement, ROUGE) and speed (real-time factor, hang-up-to-draft latency,
//! peak memory), into reproducible, comparable reports for research.
//!
//! The system under test is anything implementing [`Pipeline`]; [`ReferencePipeline`] is the
//! reference mode that needs no recogniser. [`run`] evaluates a [`Corpus`] into an output
//! directory, resuming an interrupted run there; [`compare`] diffs two runs. Metric definitions
//! and the manifest format are documented in `eval/README.md`.

pub mod align;
pub mod compare;
pub mod corpus;
pub mod normalise;
pub mod note;
pub mod pipeline;
pub mod provenance;
mod report;
pub mod results;
pub mod run;
pub mod speed;
pub mod transcription;

pub use compare::{Comparison, compare};
pub use corpus::{Audio, ConsultationInput, Corpus, CorpusError, Metadata, References};
pub use note::{Draft, DraftSection, Section, Statement};
pub use pipeline::{AsrMode, Pipeline, PipelineError, ReferencePipeline, TranscriptRun};
pub use provenance::ConfigRecord;
pub use results::RunResults;
pub use run::{Event, RunError, RunOptions, RunOutcome, Stages, run};
