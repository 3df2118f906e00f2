//! The evaluation harness: runs the pipeline over a corpus of consultations and measures
//! transcription (WER/CER after a Danish normaliser), note quality (fact recall, statement
//! support, section placement, ROUGE) and speed (real-time factor, hang-up-to-draft latency,
//! peak memory), into reproducible, comparable reports for research.
//!
//! The system under test is anything implementing [`Pipeline`]; [`ReferencePipeline`] is the
//! reference mode that needs no recogniser. [`run`] evaluates a [`Corpus`] into an output
//! directory, resuming an interrupted run there; [`compare`] diffs two runs. Metric definitions
//! and the manifest format are documented in `eval/README.md`.
//!
//! ```no_run
//! use std::path::Path;
//! use std::sync::atomic::AtomicBool;
//!
//! let corpus = eval::Corpus::load(Path::new("eval/corpora/synthetic-da/manifest.toml"))?;
//! for (id, problem) in corpus.problems() {
//!     eprintln!("{id}: {problem}");
//! }
//! let mut options = eval::RunOptions::new("eval/runs/reference");
//! options.stages = "asr,note".parse()?;
//! let interrupted = AtomicBool::new(false); // set it from a Ctrl-C handler
//! let pipeline = eval::ReferencePipeline::from_corpus(&corpus);
//! let outcome = eval::run(&corpus, &pipeline, &options, &interrupted, &|event| eprintln!("{event:?}"))?;
//! println!("{} evaluated, {} failed", outcome.evaluated.len(), outcome.failed.len());
//! print!("{}", eval::compare(Path::new("eval/runs/before"), &outcome.out_dir)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod align;
pub mod compare;
pub mod corpus;
pub mod note;
mod out_dir;
pub mod pipeline;
pub mod provenance;
pub mod record;
mod report;
pub mod results;
pub mod run;
pub mod speed;
pub mod transcription;

pub use compare::{Comparison, compare};
pub use corpus::{Audio, ConsultationInput, Corpus, CorpusError, Metadata, References};
pub use note::{Draft, DraftSection, Section, Statement};
pub use out_dir::RunError;
pub use pipeline::{AsrMode, Pipeline, PipelineError, ReferencePipeline, TranscriptRun};
pub use provenance::ConfigRecord;
pub use record::Stages;
pub use results::{ResultsError, RunResults};
pub use run::{Progress, RunOptions, RunOutcome, run};
