//! `eval compare`: the differences between two runs, overall and per consultation.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::record::ConsultationResult;
use crate::results::{ResultsError, RunResults};
use crate::speed::percentile;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A rate shown in percent; changes in percentage points.
    Percent,
    Seconds,
    Plain,
    Mebibytes,
}

impl Unit {
    fn show(self, value: f64) -> String {
        match self {
            Unit::Percent => format!("{:.1} %", value * 100.0),
            Unit::Seconds => format!("{value:.2} s"),
            Unit::Plain => format!("{value:.3}"),
            Unit::Mebibytes => format!("{:.0} MiB", value / 1_048_576.0),
        }
    }

    fn show_change(self, change: f64) -> String {
        match self {
            Unit::Percent => format!("{:+.1} pp", change * 100.0),
            Unit::Seconds => format!("{change:+.2} s"),
            Unit::Plain => format!("{change:+.3}"),
            Unit::Mebibytes => format!("{:+.0} MiB", change / 1_048_576.0),
        }
    }
}

/// One metric in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub metric: &'static str,
    pub unit: Unit,
    pub a: Option<f64>,
    pub b: Option<f64>,
}

impl Change {
    pub fn difference(&self) -> Option<f64> {
        Some(self.b? - self.a?)
    }

    fn show(&self, value: Option<f64>) -> String {
        value.map_or_else(|| "–".to_string(), |v| self.unit.show(v))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationChanges {
    pub id: String,
    /// Only the metrics whose value differs.
    pub changes: Vec<Change>,
}

/// A corpus metric's change between two runs over the consultations both evaluated, with a
/// 95 % confidence interval from a paired bootstrap: the consultations are resampled with
/// replacement [`RESAMPLES`] times (seed [`BOOTSTRAP_SEED`]), the micro-averaged metric of
/// each run recomputed on each resample, and the 2.5th and 97.5th percentiles of the
/// differences taken. An interval that excludes 0 is a change the corpus supports.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedDifference {
    pub metric: &'static str,
    pub consultations: usize,
    /// B minus A.
    pub difference: f64,
    pub low: f64,
    pub high: f64,
}

pub const RESAMPLES: usize = 2000;
pub const BOOTSTRAP_SEED: u64 = 0;

/// A micro-averaged metric as (numerator, denominator) of one consultation.
type Counts = (&'static str, fn(&ConsultationResult) -> Option<(usize, usize)>);

const PAIRED_METRICS: &[Counts] = &[
    ("WER", |c| {
        let words = c.transcription.as_ref()?.overall.words;
        Some((words.errors(), words.reference_len))
    }),
    ("Fact recall", |c| {
        let recall = c.note.as_ref()?.fact_recall?;
        Some((recall.hits, recall.total))
    }),
    ("Statement precision", |c| {
        let support = c.note.as_ref()?.statement_support;
        Some((support.hits, support.total))
    }),
];

/// SplitMix64: a small, well-mixed generator, so resampling is reproducible without a crate.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One consultation's counts in run A and run B.
type Pair = ((usize, usize), (usize, usize));

/// B's micro-average minus A's over `pairs`; `None` when a denominator is 0.
fn micro_difference<'a>(pairs: impl Iterator<Item = &'a Pair>) -> Option<f64> {
    let (mut a, mut b) = ((0, 0), (0, 0));
    for ((a_num, a_den), (b_num, b_den)) in pairs {
        a = (a.0 + a_num, a.1 + a_den);
        b = (b.0 + b_num, b.1 + b_den);
    }
    (a.1 > 0 && b.1 > 0).then(|| b.0 as f64 / b.1 as f64 - a.0 as f64 / a.1 as f64)
}

/// The difference and its 95 % paired-bootstrap interval; `None` with fewer than two pairs.
fn paired_bootstrap(pairs: &[Pair], resamples: usize, seed: u64) -> Option<(f64, f64, f64)> {
    if pairs.len() < 2 {
        return None;
    }
    let difference = micro_difference(pairs.iter())?;
    let mut rng = SplitMix64(seed);
    let mut differences: Vec<f64> = (0..resamples)
        .filter_map(|_| micro_difference((0..pairs.len()).map(|_| &pairs[rng.below(pairs.len())])))
        .collect();
    if differences.is_empty() {
        return None;
    }
    differences.sort_by(f64::total_cmp);
    Some((difference, percentile(&differences, 0.025), percentile(&differences, 0.975)))
}

fn paired_differences(a: &[ConsultationResult], b: &[ConsultationResult]) -> Vec<PairedDifference> {
    PAIRED_METRICS
        .iter()
        .filter_map(|(metric, counts)| {
            let pairs: Vec<Pair> = a
                .iter()
                .filter_map(|ca| {
                    let cb = b.iter().find(|cb| cb.id == ca.id)?;
                    Some((counts(ca)?, counts(cb)?))
                })
                .collect();
            let (difference, low, high) = paired_bootstrap(&pairs, RESAMPLES, BOOTSTRAP_SEED)?;
            Some(PairedDifference { metric, consultations: pairs.len(), difference, low, high })
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct Comparison {
    pub a: PathBuf,
    pub b: PathBuf,
    /// Reasons the two runs may not be comparable (different corpus, machine, stages).
    pub warnings: Vec<String>,
    pub summary: Vec<Change>,
    pub paired: Vec<PairedDifference>,
    pub consultations: Vec<ConsultationChanges>,
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
}

type Metric<T> = (&'static str, Unit, fn(&T) -> Option<f64>);

const SUMMARY_METRICS: &[Metric<RunResults>] = &[
    ("WER", Unit::Percent, |r| r.summary.wer),
    ("CER", Unit::Percent, |r| r.summary.cer),
    ("Streaming vs. offline WER", Unit::Percent, |r| r.summary.streaming_vs_offline_wer),
    ("Fact recall", Unit::Percent, |r| r.summary.fact_recall),
    ("Section placement", Unit::Percent, |r| r.summary.section_placement),
    ("Statement precision", Unit::Percent, |r| r.summary.statement_precision),
    ("ROUGE-1 F1 (mean)", Unit::Plain, |r| Some(r.summary.rouge1_f1?.mean)),
    ("ROUGE-2 F1 (mean)", Unit::Plain, |r| Some(r.summary.rouge2_f1?.mean)),
    ("ROUGE-L F1 (mean)", Unit::Plain, |r| Some(r.summary.rouge_l_f1?.mean)),
    ("Real-time factor (mean)", Unit::Plain, |r| Some(r.summary.real_time_factor?.mean)),
    ("Real-time factor (p95)", Unit::Plain, |r| Some(r.summary.real_time_factor?.p95)),
    ("Hang-up to draft (p50)", Unit::Seconds, |r| Some(r.summary.hangup_to_draft_seconds?.p50)),
    ("Hang-up to draft (p95)", Unit::Seconds, |r| Some(r.summary.hangup_to_draft_seconds?.p95)),
    ("Peak memory (p95)", Unit::Mebibytes, |r| Some(r.summary.peak_memory_bytes?.p95)),
];

const CONSULTATION_METRICS: &[Metric<ConsultationResult>] = &[
    ("WER", Unit::Percent, |c| c.transcription.as_ref()?.overall.wer()),
    ("CER", Unit::Percent, |c| c.transcription.as_ref()?.overall.cer()),
    ("fact recall", Unit::Percent, |c| c.note.as_ref()?.fact_recall?.value()),
    ("statement precision", Unit::Percent, |c| c.note.as_ref()?.statement_support.value()),
    ("ROUGE-L F1", Unit::Plain, |c| Some(c.note.as_ref()?.rouge?.rouge_l.f1)),
    ("RTF", Unit::Plain, |c| c.speed.real_time_factor),
    ("hang-up to draft", Unit::Seconds, |c| c.speed.hangup_to_draft_seconds),
];

fn changes<T>(metrics: &[Metric<T>], a: &T, b: &T) -> Vec<Change> {
    metrics.iter().map(|(metric, unit, value)| Change { metric, unit: *unit, a: value(a), b: value(b) }).collect()
}

/// Compares the runs in two output directories (their `results.json`).
pub fn compare(a_dir: &Path, b_dir: &Path) -> Result<Comparison, ResultsError> {
    let a = RunResults::load(a_dir)?;
    let b = RunResults::load(b_dir)?;
    let mut warnings = Vec::new();
    let (ha, hb) = (&a.header, &b.header);
    if ha.corpus.manifest_sha256 != hb.corpus.manifest_sha256 {
        warnings
            .push(format!("the runs scored different corpus manifests ({} and {})", ha.corpus.name, hb.corpus.name));
    }
    let stages =
        |h: &crate::record::RunHeader| format!("{} {}", h.stages, if h.streaming { "streaming" } else { "offline" });
    if stages(ha) != stages(hb) {
        warnings.push(format!("the runs ran different stages ({} and {})", stages(ha), stages(hb)));
    }
    if ha.machine != hb.machine {
        warnings.push("the runs ran on different machines: speed is not comparable".to_string());
    }
    for (name, results) in [("A", &a), ("B", &b)] {
        if !results.header.complete {
            warnings.push(format!("run {name} was interrupted ({} consultations pending)", results.pending.len()));
        }
    }
    let ok = |r: &RunResults| -> Vec<ConsultationResult> {
        r.consultations.iter().filter(|c| c.error.is_none()).cloned().collect()
    };
    let (ok_a, ok_b) = (ok(&a), ok(&b));
    let mut consultations = Vec::new();
    let mut only_in_a = Vec::new();
    for ca in &ok_a {
        match ok_b.iter().find(|cb| cb.id == ca.id) {
            Some(cb) => {
                let differing: Vec<Change> =
                    changes(CONSULTATION_METRICS, ca, cb).into_iter().filter(|c| c.a != c.b).collect();
                if !differing.is_empty() {
                    consultations.push(ConsultationChanges { id: ca.id.clone(), changes: differing });
                }
            }
            None => only_in_a.push(ca.id.clone()),
        }
    }
    let only_in_b = ok_b.iter().filter(|cb| !ok_a.iter().any(|ca| ca.id == cb.id)).map(|c| c.id.clone()).collect();
    Ok(Comparison {
        a: a_dir.to_path_buf(),
        b: b_dir.to_path_buf(),
        warnings,
        summary: changes(SUMMARY_METRICS, &a, &b),
        paired: paired_differences(&ok_a, &ok_b),
        consultations,
        only_in_a,
        only_in_b,
    })
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "A: {}\nB: {}", self.a.display(), self.b.display())?;
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        writeln!(f, "\n{:<28} {:>12} {:>12} {:>12}", "metric", "A", "B", "change")?;
        for change in self.summary.iter().filter(|c| c.a.is_some() || c.b.is_some()) {
            let difference = change.difference().map_or_else(String::new, |d| change.unit.show_change(d));
            writeln!(
                f,
                "{:<28} {:>12} {:>12} {:>12}",
                change.metric,
                change.show(change.a),
                change.show(change.b),
                difference
            )?;
        }
        if !self.paired.is_empty() {
            writeln!(f)?;
        }
        for paired in &self.paired {
            let unit = Unit::Percent;
            writeln!(
                f,
                "{} change over the {} consultations in both runs: {}, 95 % CI [{}, {}] (paired bootstrap)",
                paired.metric,
                paired.consultations,
                unit.show_change(paired.difference),
                unit.show_change(paired.low),
                unit.show_change(paired.high)
            )?;
        }
        if self.consultations.is_empty() {
            writeln!(f, "\nNo consultation changed.")?;
        } else {
            writeln!(f, "\nPer consultation (changed metrics only):")?;
            for consultation in &self.consultations {
                let parts: Vec<String> = consultation
                    .changes
                    .iter()
                    .map(|c| {
                        let difference =
                            c.difference().map_or_else(String::new, |d| format!(" ({})", c.unit.show_change(d)));
                        format!("{} {} → {}{difference}", c.metric, c.show(c.a), c.show(c.b))
                    })
                    .collect();
                writeln!(f, "  {}: {}", consultation.id, parts.join("; "))?;
            }
        }
        for (name, ids) in [("A", &self.only_in_a), ("B", &self.only_in_b)] {
            if !ids.is_empty() {
                writeln!(f, "Evaluated only in {name}: {}", ids.join(", "))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_bootstrap_by_hand() {
        // Every consultation: A 1 error in 10 words, B 2 in 10. Any resample gives +0.1, so
        // the interval collapses onto the difference.
        let same = vec![((1, 10), (2, 10)); 5];
        let (difference, low, high) = paired_bootstrap(&same, 200, 7).unwrap();
        assert!((difference - 0.1).abs() < 1e-12 && (low - 0.1).abs() < 1e-12 && (high - 0.1).abs() < 1e-12);
        // Mixed changes: the interval holds the point estimate, and the seed fixes it.
        let mixed = vec![((1, 10), (0, 10)), ((2, 10), (5, 10)), ((0, 20), (1, 20)), ((3, 10), (3, 10))];
        let first = paired_bootstrap(&mixed, 500, 1).unwrap();
        assert_eq!(first, paired_bootstrap(&mixed, 500, 1).unwrap());
        // Point: A 6/50, B 9/50 → +0.06.
        assert!((first.0 - 0.06).abs() < 1e-12);
        assert!(first.1 <= first.0 && first.0 <= first.2 && first.1 < first.2);
        assert_eq!(paired_bootstrap(&mixed[..1], 500, 1), None);
    }

    #[test]
    fn units_show_values_and_changes() {
        assert_eq!(Unit::Percent.show(0.123), "12.3 %");
        assert_eq!(Unit::Percent.show_change(-0.022), "-2.2 pp");
        assert_eq!(Unit::Seconds.show_change(1.5), "+1.50 s");
        assert_eq!(Unit::Mebibytes.show(3.0 * 1_048_576.0), "3 MiB");
        let change = Change { metric: "WER", unit: Unit::Percent, a: Some(0.2), b: None };
        assert_eq!(change.difference(), None);
    }
}
