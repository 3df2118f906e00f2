//! Which note section each utterance belongs to: the [`NoteModel`] seam and its ONNX model.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use transcript::Transcript;

use crate::Error;
use crate::features::{FEATURE_DIM, FEATURE_VERSION, features};

/// The file `autonotar models fetch` writes the trained classifier to, inside the model directory.
pub const MODEL_FILE: &str = "note-classifier.onnx";

pub use transcript::Section;

/// The label order of a model's output: "not note-worthy" first, then the sections.
pub const LABELS: [&str; 7] = ["none", "kontaktaarsag", "anamnese", "objektivt", "vurdering", "plan", "medicin"];

/// What a model says about one utterance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Label {
    /// `None`: not note-worthy (greetings, small talk, talk about the video link).
    pub section: Option<Section>,
    pub probability: f32,
}

/// Assigns every segment of a transcript a section. A site can plug in a larger model by
/// implementing this; [`OnnxClassifier`] is the one the project trains.
pub trait NoteModel {
    /// One label per segment, in segment order.
    fn classify(&self, transcript: &Transcript) -> Result<Vec<Label>, Error>;
    /// Names the model in the draft, so a note says what produced it.
    fn name(&self) -> String;
}

/// Rows per ONNX run: a 3-hour transcript must not become one 200 MB tensor.
const BATCH: usize = 128;

/// The hashed-features linear classifier trained by `models/classifier/train.py`, run by ONNX
/// Runtime. Any ONNX model with the same input (`features`, [N, FEATURE_DIM] float) and output
/// (`probabilities`, [N, 7] in [`LABELS`] order) can take its place.
pub struct OnnxClassifier {
    session: Mutex<onnx::Session>,
    path: PathBuf,
}

impl OnnxClassifier {
    /// Opens `model` (usually `<model_dir>/note-classifier.onnx`) on the runtime in `model_dir`.
    pub fn open(model_dir: &Path, model: &Path) -> Result<OnnxClassifier, Error> {
        let session = onnx::session(model_dir, model, 1)?;
        let wrong = |reason: String| Error::IncompatibleModel { path: model.to_path_buf(), reason };
        let metadata = session.metadata().map_err(|e| wrong(e.to_string()))?;
        if let Some(labels) = metadata.custom("labels")
            && labels != LABELS.join(",")
        {
            return Err(wrong(format!("its labels are {labels:?}, expected {:?}", LABELS.join(","))));
        }
        if let Some(version) = metadata.custom("features")
            && version != FEATURE_VERSION
        {
            return Err(wrong(format!("it expects features {version:?}, this build computes {FEATURE_VERSION:?}")));
        }
        drop(metadata);
        Ok(OnnxClassifier { session: Mutex::new(session), path: model.to_path_buf() })
    }

    /// Section probabilities (in [`LABELS`] order) for ready-made feature rows.
    pub fn probabilities(&self, rows: &[Vec<f32>]) -> Result<Vec<[f32; 7]>, Error> {
        let failed = |reason: String| Error::Inference { path: self.path.clone(), reason };
        let mut session = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = Vec::with_capacity(rows.len());
        for batch in rows.chunks(BATCH) {
            let flat: Vec<f32> = batch.iter().flatten().copied().collect();
            let input =
                onnx::Tensor::from_array(([batch.len(), FEATURE_DIM], flat)).map_err(|e| failed(e.to_string()))?;
            let outputs = session.run(ort::inputs!["features" => input]).map_err(|e| failed(e.to_string()))?;
            let (shape, values) =
                outputs["probabilities"].try_extract_tensor::<f32>().map_err(|e| failed(e.to_string()))?;
            if shape.len() != 2 || shape[0] as usize != batch.len() || shape[1] as usize != LABELS.len() {
                return Err(failed(format!("output shape {shape:?}, expected [{}, {}]", batch.len(), LABELS.len())));
            }
            out.extend(values.chunks(LABELS.len()).map(|row| {
                let mut p = [0.0; 7];
                p.copy_from_slice(row);
                p
            }));
        }
        Ok(out)
    }
}

/// Feature rows for every segment of a transcript, each with its predecessor as context.
pub fn transcript_features(transcript: &Transcript) -> Vec<Vec<f32>> {
    let count = transcript.segments.len();
    transcript
        .segments
        .iter()
        .enumerate()
        .map(|(index, segment)| {
            let previous = index.checked_sub(1).map_or("", |p| transcript.segments[p].text.as_str());
            features(&segment.text, previous, segment.speaker, index, count)
        })
        .collect()
}

impl NoteModel for OnnxClassifier {
    fn classify(&self, transcript: &Transcript) -> Result<Vec<Label>, Error> {
        let probabilities = self.probabilities(&transcript_features(transcript))?;
        Ok(probabilities
            .iter()
            .map(|p| {
                let (best, probability) = p
                    .iter()
                    .copied()
                    .enumerate()
                    .fold((0, f32::MIN), |best, (i, q)| if q > best.1 { (i, q) } else { best });
                Label { section: Section::from_label(LABELS[best]), probability }
            })
            .collect())
    }

    fn name(&self) -> String {
        let file = self.path.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        format!("{file} (ONNX)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classifier_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<OnnxClassifier>();
    }

    #[test]
    fn section_labels_round_trip() {
        for section in Section::ALL {
            assert_eq!(Section::from_label(section.label()), Some(section));
            assert!(LABELS.contains(&section.label()));
        }
        assert_eq!(Section::from_label("none"), None);
    }
}
