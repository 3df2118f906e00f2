//! Minimum-edit alignment of a hypothesis against a reference, and the error rates built on it.
//!
//! Unit costs (substitution, insertion and deletion each cost 1), so the edit distance is the
//! Levenshtein distance and `WER = (S + D + I) / N` with `N` the reference length. When several
//! alignments have the same cost, the backtrace prefers a match or substitution, then a
//! deletion, then an insertion, which makes the saved alignment deterministic.

use serde::{Deserialize, Serialize};

/// Substitutions, deletions and insertions of one alignment, and the reference length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditCounts {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    /// Tokens in the reference: the denominator of the error rate.
    pub reference_len: usize,
}

impl EditCounts {
    pub fn errors(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// `(S + D + I) / N`; `None` for an empty reference, where the rate is undefined.
    pub fn rate(&self) -> Option<f64> {
        (self.reference_len > 0).then(|| self.errors() as f64 / self.reference_len as f64)
    }

    pub fn add(&mut self, other: &EditCounts) {
        self.substitutions += other.substitutions;
        self.deletions += other.deletions;
        self.insertions += other.insertions;
        self.reference_len += other.reference_len;
    }
}

/// One step of an alignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Step {
    Match { word: String },
    Substitution { reference: String, hypothesis: String },
    Deletion { reference: String },
    Insertion { hypothesis: String },
}

/// A word alignment with its counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alignment {
    pub counts: EditCounts,
    pub steps: Vec<Step>,
}

#[derive(Clone, Copy)]
enum Back {
    Diagonal,
    Up,
    Left,
}

/// Aligns two token sequences with a full backtrace (words: a few thousand per consultation).
pub fn align(reference: &[String], hypothesis: &[String]) -> Alignment {
    let (n, m) = (reference.len(), hypothesis.len());
    let width = m + 1;
    let mut back = vec![Back::Diagonal; (n + 1) * width];
    let mut previous: Vec<usize> = (0..=m).collect();
    let mut current = vec![0; m + 1];
    back[1..=m].fill(Back::Left);
    for i in 1..=n {
        current[0] = i;
        back[i * width] = Back::Up;
        for j in 1..=m {
            let diagonal = previous[j - 1] + usize::from(reference[i - 1] != hypothesis[j - 1]);
            let up = previous[j] + 1;
            let left = current[j - 1] + 1;
            let (cost, direction) = if diagonal <= up && diagonal <= left {
                (diagonal, Back::Diagonal)
            } else if up <= left {
                (up, Back::Up)
            } else {
                (left, Back::Left)
            };
            current[j] = cost;
            back[i * width + j] = direction;
        }
        std::mem::swap(&mut previous, &mut current);
    }

    let mut steps = Vec::with_capacity(n.max(m));
    let mut counts = EditCounts { reference_len: n, ..EditCounts::default() };
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        match back[i * width + j] {
            Back::Diagonal => {
                let (r, h) = (&reference[i - 1], &hypothesis[j - 1]);
                steps.push(if r == h {
                    Step::Match { word: r.clone() }
                } else {
                    counts.substitutions += 1;
                    Step::Substitution { reference: r.clone(), hypothesis: h.clone() }
                });
                i -= 1;
                j -= 1;
            }
            Back::Up => {
                counts.deletions += 1;
                steps.push(Step::Deletion { reference: reference[i - 1].clone() });
                i -= 1;
            }
            Back::Left => {
                counts.insertions += 1;
                steps.push(Step::Insertion { hypothesis: hypothesis[j - 1].clone() });
                j -= 1;
            }
        }
    }
    steps.reverse();
    Alignment { counts, steps }
}

/// Edit counts without a backtrace, in memory linear in the hypothesis: for character error
/// rates, where a consultation has tens of thousands of characters. Same tie-breaking as
/// [`align`], so the counts agree with it.
pub fn edit_counts<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> EditCounts {
    #[derive(Clone, Copy, Default)]
    struct Cell {
        cost: usize,
        substitutions: usize,
        deletions: usize,
        insertions: usize,
    }
    let m = hypothesis.len();
    let mut previous: Vec<Cell> = (0..=m).map(|j| Cell { cost: j, insertions: j, ..Cell::default() }).collect();
    let mut current = vec![Cell::default(); m + 1];
    for (i, r) in reference.iter().enumerate() {
        current[0] = Cell { cost: i + 1, deletions: i + 1, ..Cell::default() };
        for j in 1..=m {
            let differs = usize::from(*r != hypothesis[j - 1]);
            let diagonal = previous[j - 1].cost + differs;
            let up = previous[j].cost + 1;
            let left = current[j - 1].cost + 1;
            current[j] = if diagonal <= up && diagonal <= left {
                Cell { cost: diagonal, substitutions: previous[j - 1].substitutions + differs, ..previous[j - 1] }
            } else if up <= left {
                Cell { cost: up, deletions: previous[j].deletions + 1, ..previous[j] }
            } else {
                Cell { cost: left, insertions: current[j - 1].insertions + 1, ..current[j - 1] }
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let last = previous[m];
    EditCounts {
        substitutions: last.substitutions,
        deletions: last.deletions,
        insertions: last.insertions,
        reference_len: reference.len(),
    }
}

/// Character edit counts of two normalised texts (spaces count as characters).
pub fn character_counts(reference: &str, hypothesis: &str) -> EditCounts {
    let reference: Vec<char> = reference.chars().collect();
    let hypothesis: Vec<char> = hypothesis.chars().collect();
    edit_counts(&reference, &hypothesis)
}

impl Alignment {
    /// Three aligned rows (REF, HYP, and S/D/I marks), wrapped at about `width` characters,
    /// blocks separated by a blank line.
    pub fn to_text(&self, width: usize) -> String {
        let mut blocks = Vec::new();
        let (mut reference, mut hypothesis, mut marks) = (String::new(), String::new(), String::new());
        for step in &self.steps {
            let (r, h, mark) = match step {
                Step::Match { word } => (word.as_str(), word.as_str(), ' '),
                Step::Substitution { reference, hypothesis } => (reference.as_str(), hypothesis.as_str(), 'S'),
                Step::Deletion { reference } => (reference.as_str(), "", 'D'),
                Step::Insertion { hypothesis } => ("", hypothesis.as_str(), 'I'),
            };
            let cell = r.chars().count().max(h.chars().count()).max(1);
            if reference.chars().count() + cell > width && !reference.is_empty() {
                blocks.push(rows(&reference, &hypothesis, &marks));
                reference.clear();
                hypothesis.clear();
                marks.clear();
            }
            let pad = |text: &str| {
                let filler = if text.is_empty() { '*' } else { ' ' };
                let mut cell_text = text.to_string();
                cell_text.extend(std::iter::repeat_n(filler, cell - text.chars().count()));
                cell_text.push(' ');
                cell_text
            };
            reference.push_str(&pad(r));
            hypothesis.push_str(&pad(h));
            marks.push(mark);
            marks.extend(std::iter::repeat_n(' ', cell));
        }
        if !reference.is_empty() {
            blocks.push(rows(&reference, &hypothesis, &marks));
        }
        blocks.join("\n")
    }
}

fn rows(reference: &str, hypothesis: &str, marks: &str) -> String {
    let marks = format!("     {marks}");
    format!("REF: {}\nHYP: {}\n{}\n", reference.trim_end(), hypothesis.trim_end(), marks.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn textbook_word_alignment() {
        // REF: the cat sat on the mat      (N = 6)
        // HYP:     cat sit on the mat too
        //      D       S              I      → WER = 3/6 (all-substitution would cost 6)
        let a = align(&words("the cat sat on the mat"), &words("cat sit on the mat too"));
        assert_eq!(a.counts, EditCounts { substitutions: 1, deletions: 1, insertions: 1, reference_len: 6 });
        assert_eq!(a.counts.rate(), Some(0.5));
        assert_eq!(a.steps[0], Step::Deletion { reference: "the".into() });
        assert_eq!(a.steps[2], Step::Substitution { reference: "sat".into(), hypothesis: "sit".into() });
        assert_eq!(a.steps[6], Step::Insertion { hypothesis: "too".into() });
    }

    #[test]
    fn intention_execution_is_five_edits() {
        // Jurafsky & Martin's minimum edit distance example, with unit substitution cost:
        // i n t e * n t i o n / * e x e c u t i o n: 1 deletion, 3 substitutions, 1 insertion.
        let counts = character_counts("intention", "execution");
        assert_eq!(counts.errors(), 5);
        assert_eq!(counts.reference_len, 9);
        let chars = |s: &str| s.chars().map(String::from).collect::<Vec<_>>();
        assert_eq!(align(&chars("intention"), &chars("execution")).counts, counts);
    }

    #[test]
    fn empty_sides() {
        let a = align(&[], &words("a b"));
        assert_eq!(a.counts, EditCounts { insertions: 2, ..EditCounts::default() });
        assert_eq!(a.counts.rate(), None);
        let a = align(&words("a b"), &[]);
        assert_eq!(a.counts.rate(), Some(1.0));
    }

    #[test]
    fn text_rendering_marks_each_edit() {
        let a = align(&words("the cat sat on the mat"), &words("cat sit on the mat too"));
        assert_eq!(
            a.to_text(100),
            "REF: the cat sat on the mat ***\nHYP: *** cat sit on the mat too\n     D       S              I\n"
        );
        let wrapped = a.to_text(12);
        assert_eq!(wrapped.split("\n\n").count(), 3, "{wrapped}");
        assert!(wrapped.lines().all(|l| l == l.trim_end()), "{wrapped}");
    }
}
