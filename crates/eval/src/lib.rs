//! The evaluation harness: runs the pipeline over a corpus of consultations and measures
//! transcription (WER/CER), note quality (fact recall, statement support, ROUGE) and speed.

pub mod align;
pub mod normalise;
pub mod note;
pub mod speed;
pub mod transcription;
pub mod corpus;
pub mod pipeline;
pub mod provenance;
pub mod report;
pub mod results;
pub mod run;
