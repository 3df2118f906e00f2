//! The rules: from classified utterances to candidate statements in note style.
//!
//! Rules find structure (symptoms with negation and duration, measurements, medications,
//! allergies, plan actions); the classifier decides which utterances matter and, where a rule
//! does not fix it, which section they belong to. Every candidate names the segments it came
//! from; the verifier checks it against them before it may enter the note.

use transcript::{Role, Segment};

use crate::classifier::{Label, Section};
use crate::draft::{Change, Kind, Value};
use crate::lexicon::{self, Absent, Drug, SYMPTOMS, Symptom, dose_unit, drug_named, time_unit, word_matches};
use crate::text::{Token, danish_number, pressure_text, tokenize};

/// A statement before verification.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub section: Section,
    pub text: String,
    pub kind: Kind,
    pub values: Vec<Value>,
    /// Indices into the transcript's segments.
    pub segments: Vec<usize>,
    pub probability: f32,
}

struct Utterance<'a> {
    index: usize,
    segment: &'a Segment,
    tokens: Vec<Token>,
    label: Label,
}

impl Utterance<'_> {
    fn words(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().filter_map(Token::word)
    }

    fn has_word(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.words().any(pred)
    }

    fn is_question(&self) -> bool {
        self.segment.text.contains('?')
    }
}

/// All candidate statements of a transcript, in segment order.
pub fn candidates(segments: &[Segment], labels: &[Label]) -> Vec<Candidate> {
    let utterances: Vec<Utterance> = segments
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(index, (segment, label))| Utterance { index, segment, tokens: tokenize(&segment.text), label: *label })
        .collect();
    let mut out = Vec::new();
    let mut reasons_given = 0;
    let mut stated: Vec<&'static str> = Vec::new();
    let mut first_complaint: Option<Candidate> = None;
    let mut doses = DoseHistory::new();
    for (i, u) in utterances.iter().enumerate() {
        let question = i
            .checked_sub(1)
            .map(|p| &utterances[p])
            .filter(|q| q.is_question() && q.segment.speaker != u.segment.speaker && u.segment.speaker != Role::Doctor);
        let before = out.len();
        let asked: Vec<usize> = question.map(|q| q.index).into_iter().collect();
        let mut push = |section: Section, text: String, kind: Kind, values: Vec<Value>, also: &[usize]| {
            let mut used = also.to_vec();
            used.push(i);
            used.sort_unstable();
            used.dedup();
            out.push(Candidate { section, text, kind, values, segments: used, probability: u.label.probability });
        };
        let symptoms = symptom_findings(u, question);
        let is_reason = u.label.section == Some(Section::Kontaktaarsag);
        for finding in symptoms.iter().filter(|f| f.present && !f.from_question) {
            let reason = Candidate {
                section: Section::Kontaktaarsag,
                text: sentence(finding.symptom.name),
                kind: Kind::Symptom,
                values: vec![finding.value()],
                segments: vec![i],
                probability: u.label.probability,
            };
            if is_reason && reasons_given < 2 {
                reasons_given += 1;
                push(reason.section, reason.text, reason.kind, reason.values, &[]);
            } else if first_complaint.is_none() && i * 5 < utterances.len() * 2 {
                first_complaint = Some(reason);
            }
        }
        let temperatures = measurements(u, question, &mut push);
        for finding in &symptoms {
            let bare = finding.present && finding.duration.is_none() && finding.onset.is_none();
            let fever_with_value = finding.symptom.name == "feber" && finding.present && temperatures;
            if fever_with_value || (bare && (is_reason || stated.contains(&finding.symptom.name))) {
                continue;
            }
            if finding.present {
                stated.push(finding.symptom.name);
            }
            let cited: &[usize] = if finding.from_question { &asked } else { &[] };
            push(Section::Anamnese, finding.text(), Kind::Symptom, vec![finding.value()], cited);
        }
        allergy(u, question, &mut push);
        medications(u, question, &mut doses, &mut push);
        let planning = matches!(u.label.section, Some(Section::Plan | Section::Medicin));
        if u.segment.speaker != Role::Patient && u.label.section.is_some() && (planning || !u.is_question()) {
            plan_actions(u, &mut push);
        }
        let structured = out.len() > before;
        if let Some((section, text)) = summary(u, structured, reasons_given < 2) {
            if section == Section::Kontaktaarsag {
                reasons_given += 1;
            }
            out.push(Candidate {
                section,
                text,
                kind: Kind::Summary,
                values: Vec::new(),
                segments: vec![i],
                probability: u.label.probability,
            });
        }
    }
    // No utterance was classified as the reason for contact: the first complaint early in the
    // consultation is the best evidence-backed guess.
    if reasons_given == 0 {
        out.extend(first_complaint);
    }
    out
}

// ---------------------------------------------------------------- symptoms

struct SymptomFinding {
    symptom: &'static Symptom,
    present: bool,
    duration: Option<String>,
    onset: Option<String>,
    /// Found in the doctor's question and answered yes or no.
    from_question: bool,
}

impl SymptomFinding {
    fn text(&self) -> String {
        if !self.present {
            return match self.symptom.absent {
                Absent::Ingen => format!("Ingen {}.", self.symptom.name),
                Absent::Intet => format!("Intet {}.", self.symptom.name),
                Absent::Ikke => format!("Ikke {}.", self.symptom.name),
                Absent::IkkeAfter => format!("{} ikke.", capitalise(self.symptom.name)),
            };
        }
        let mut text = capitalise(self.symptom.name);
        for detail in [&self.duration, &self.onset].into_iter().flatten() {
            text.push(' ');
            text.push_str(detail);
        }
        text.push('.');
        text
    }

    fn value(&self) -> Value {
        Value::Symptom {
            name: self.symptom.name.to_string(),
            present: self.present,
            duration: self.duration.clone(),
            onset: self.onset.clone(),
        }
    }
}

/// Where the words of `pattern` (space-separated, `*` endings) occur in a row, commas between
/// them allowed ("svier, når jeg tisser"): each match's first and one-past-last token.
fn find_phrase(tokens: &[Token], pattern: &str) -> Vec<(usize, usize)> {
    let parts: Vec<&str> = pattern.split(' ').collect();
    let mut found = Vec::new();
    for start in 0..tokens.len() {
        let mut at = start;
        let mut matched = 0;
        while matched < parts.len() {
            match tokens.get(at) {
                Some(Token::Word(w)) if word_matches(parts[matched], w) => matched += 1,
                Some(Token::Punct(',')) if matched > 0 => {}
                _ => break,
            }
            at += 1;
        }
        if matched == parts.len() {
            found.push((start, at));
        }
    }
    found
}

fn clause_bounds(tokens: &[Token], at: usize) -> (usize, usize) {
    let start = tokens[..at].iter().rposition(|t| matches!(t, Token::Punct(_))).map_or(0, |p| p + 1);
    let end = tokens[at..].iter().position(|t| matches!(t, Token::Punct(_))).map_or(tokens.len(), |p| at + p);
    (start, end)
}

/// Is the symptom at `at` negated? A negation counts before it in its clause, back to an
/// "og" or "men" ("får kvalme og kan ikke tåle lys" keeps the nausea), or right after it when
/// it opens the clause ("feber har jeg ikke haft"). A negated wish ("vil ikke tisse hele
/// tiden") is not a negated symptom.
fn negated(tokens: &[Token], at: usize, span_end: usize) -> bool {
    let (start, end) = clause_bounds(tokens, at);
    let cue = |k: usize| {
        tokens[k].word().is_some_and(|w| lexicon::NEGATIONS.contains(&w) && w != "nej")
            && !k.checked_sub(1).and_then(|p| tokens[p].word()).is_some_and(|w| MODALS.contains(&w))
    };
    for k in (start..at).rev() {
        if matches!(tokens[k].word(), Some("og" | "men")) {
            break;
        }
        if cue(k) {
            return true;
        }
    }
    let opens_clause =
        tokens[start..at].iter().filter_map(Token::word).all(|w| FILLERS.contains(&w) || PRONOUNS.contains(&w));
    (at..span_end.min(end)).any(cue) || (opens_clause && (span_end..end.min(span_end + 4)).any(cue))
}

const PRONOUNS: &[&str] = &["det", "den", "de", "jeg", "du", "hun", "han", "vi", "der"];

const MODALS: &[&str] = &["vil", "gider", "tør", "kan", "må"];

/// Verbs a question about having a symptom opens with ("Har du feber?", "Får du kvalme?").
/// Other questions ("Er det den værste hovedpine?") ask about something else, so a "nej" to
/// them does not deny the symptom.
const ASKING: &[&str] = &["har", "havde", "får", "fik", "mærker", "mærkede", "oplever", "føler", "gør", "hoster", "kaster", "kan"];

/// Does the question ask whether the symptom at `at` is there?
fn asks_about(tokens: &[Token], at: usize) -> bool {
    let start = tokens[..at].iter().rposition(Token::is_stop).map_or(0, |p| p + 1);
    let words: Vec<&str> =
        tokens[start..at].iter().filter_map(Token::word).skip_while(|w| FILLERS.contains(w)).collect();
    match words.as_slice() {
        [] => true,
        [first, ..] if ASKING.contains(first) => true,
        ["er", who, ..] => matches!(*who, "du" | "han" | "hun" | "der" | "i"),
        _ => false,
    }
}

/// Symptoms said in `tokens`, first mention of each, with negation.
fn mentions(tokens: &[Token]) -> Vec<(&'static Symptom, usize, bool)> {
    let mut found: Vec<(&'static Symptom, usize, bool)> = Vec::new();
    let mut covered = vec![false; tokens.len()];
    for symptom in SYMPTOMS {
        for pattern in symptom.said {
            for (at, end) in find_phrase(tokens, pattern) {
                if covered[at..end].iter().any(|&c| c) || found.iter().any(|f| std::ptr::eq(f.0, symptom)) {
                    continue;
                }
                covered[at..end].iter_mut().for_each(|c| *c = true);
                found.push((symptom, at, negated(tokens, at, end)));
            }
        }
    }
    found.sort_by_key(|f| f.1);
    found
}

enum Answer {
    Yes,
    No,
    Unclear,
}

/// A yes or no to a question: the first word, else a negation in the first sentence.
fn answer(tokens: &[Token]) -> Answer {
    let first_sentence: Vec<&str> = tokens.iter().take_while(|t| !t.is_stop()).filter_map(Token::word).collect();
    match first_sentence.first().copied() {
        Some("nej" | "næ" | "nope") => Answer::No,
        Some("ja" | "jo" | "jah" | "jep") => Answer::Yes,
        // "Det har jeg ikke.", "Ikke rigtig.": short, and nothing said but the denial.
        _ if first_sentence.len() <= 5 && first_sentence.iter().any(|w| lexicon::NEGATIONS.contains(w)) => Answer::No,
        _ => Answer::Unclear,
    }
}

fn symptom_findings(u: &Utterance, question: Option<&Utterance>) -> Vec<SymptomFinding> {
    if u.segment.speaker == Role::Doctor {
        return Vec::new();
    }
    // A relayed question ("Gør det ondt i brystet, Erna?") states nothing.
    let mut findings: Vec<SymptomFinding> = mentions(&u.tokens)
        .into_iter()
        .filter(|(_, at, _)| !in_question(&u.tokens, *at))
        .map(|(symptom, at, negated)| {
            // The nearest time said: in the clause, else the sentence, else the utterance.
            let (clause_start, clause_end) = clause_bounds(&u.tokens, at);
            let (duration, onset) = match (when(&u.tokens[clause_start..clause_end]), when(sentence_around(&u.tokens, at))) {
                _ if negated => (None, None),
                ((None, None), (None, None)) => when(&u.tokens),
                ((None, None), sentence) => sentence,
                (clause, _) => clause,
            };
            SymptomFinding { symptom, present: !negated, duration, onset, from_question: false }
        })
        .collect();
    let (duration, onset) = when(&u.tokens);
    let Some(q) = question else { return findings };
    let reply = answer(&u.tokens);
    for (symptom, at, _) in mentions(&q.tokens) {
        if findings.iter().any(|f| std::ptr::eq(f.symptom, symptom)) || !asks_about(&q.tokens, at) {
            continue;
        }
        let present = match (&reply, findings.is_empty()) {
            (Answer::No, _) => false,
            (Answer::Yes, true) => true,
            _ => continue,
        };
        findings.push(SymptomFinding {
            symptom,
            present,
            duration: duration.clone().filter(|_| present),
            onset: onset.clone().filter(|_| present),
            from_question: true,
        });
    }
    findings
}

/// Does the sentence holding position `at` end in a question mark?
fn in_question(tokens: &[Token], at: usize) -> bool {
    tokens[at..].iter().find(|t| t.is_stop()) == Some(&Token::Punct('?'))
}

/// The sentence of `tokens` that contains position `at`.
fn sentence_around(tokens: &[Token], at: usize) -> &[Token] {
    let start = tokens[..at].iter().rposition(Token::is_stop).map_or(0, |p| p + 1);
    let end = tokens[at..].iter().position(Token::is_stop).map_or(tokens.len(), |p| at + p);
    &tokens[start..end]
}

/// How long or since when: a duration if one is said, else an onset.
fn when(tokens: &[Token]) -> (Option<String>, Option<String>) {
    match duration(tokens) {
        Some(d) => (Some(d), None),
        None => (None, onset(tokens)),
    }
}

fn time_phrase(n: f64, unit: (&str, &str)) -> String {
    let noun = if n == 1.0 { unit.0 } else { unit.1 };
    format!("{} {noun}", danish_number(n))
}

/// "i tre dage" → "i 3 dage", "for to uger siden" → "for 2 uger siden".
fn duration(tokens: &[Token]) -> Option<String> {
    duration_at(tokens).map(|(_, d)| d)
}

fn duration_at(tokens: &[Token]) -> Option<(usize, String)> {
    (0..tokens.len()).find_map(|i| {
        let n = tokens[i].number()?;
        let unit = time_unit(tokens.get(i + 1)?.word()?)?;
        let before = i.checked_sub(1).and_then(|p| tokens[p].word());
        let after = tokens.get(i + 2).and_then(Token::word);
        let said = match (before, after) {
            (Some("for"), Some("siden")) => format!("for {} siden", time_phrase(n, unit)),
            (Some("er" | "været"), Some("siden")) => format!("i {}", time_phrase(n, unit)),
            (Some("i" | "sidste" | "snart" | "næsten" | "over" | "ca" | "cirka" | "omkring"), _) => {
                format!("i {}", time_phrase(n, unit))
            }
            _ => return None,
        };
        Some((i, said))
    })
}

/// Words with which a speaker takes back what they just said.
const CORRECTIONS: &[&str] = &["undskyld", "passer", "mener", "rettere"];

const WEEKDAYS: &[&str] =
    &["mandags", "tirsdags", "onsdags", "torsdags", "fredags", "lørdags", "søndags", "går", "forgårs", "weekenden", "morges"];

/// "siden i søndags", "i går morges", kept as said.
fn onset(tokens: &[Token]) -> Option<String> {
    let words: Vec<&str> = tokens.iter().map(|t| t.word().unwrap_or("")).collect();
    // "i torsdags, nej undskyld, i fredags": the speaker's correction wins.
    let corrected = words.iter().any(|w| CORRECTIONS.contains(w));
    let mut starts: Box<dyn Iterator<Item = usize>> =
        if corrected { Box::new((0..words.len()).rev()) } else { Box::new(0..words.len()) };
    starts.find_map(|i| {
        if i > 0 && words[i - 1] == "siden" {
            return None;
        }
        let (lead, at) = if words[i] == "siden" { ("siden ", i + 1) } else { ("", i) };
        if words.get(at) != Some(&"i") || !words.get(at + 1).is_some_and(|w| WEEKDAYS.contains(w)) {
            return None;
        }
        let mut phrase = format!("{lead}i {}", words[at + 1]);
        if words[at + 1] == "går"
            && let Some(part @ ("morges" | "aftes" | "eftermiddags")) = words.get(at + 2).copied()
        {
            phrase = format!("{phrase} {part}");
        }
        Some(phrase)
    })
}

// ---------------------------------------------------------------- measurements

/// Adds a candidate from the current utterance, citing also the utterances at the given indices.
type Push<'p> = dyn FnMut(Section, String, Kind, Vec<Value>, &[usize]) + 'p;

/// Something a patient or carer measures at home, and how its numbers look.
struct Gauge {
    name: &'static str,
    /// As the note writes it ("TSH").
    shown: &'static str,
    /// Word beginnings that name it.
    said: &'static [&'static str],
    range: std::ops::RangeInclusive<f64>,
    /// Unit words one of which must follow the number; empty: none needed.
    units: &'static [&'static str],
    unit: Option<&'static str>,
}

const GAUGES: &[Gauge] = &[
    gauge("temperatur", "Temperatur", &["temperatur", "feber", "grader", "termometer", "målt", "målte"], 35.0..=43.0),
    gauge("iltmætning", "Iltmætning", &["iltmætning", "saturation", "mætning", "iltapparat", "iltmåler"], 50.0..=100.0),
    gauge("langtidsblodsukker", "Langtidsblodsukker", &["langtidsblodsukker", "hba1c"], 20.0..=200.0),
    gauge("blodsukker", "Blodsukker", &["blodsukker", "morgenblodsukker"], 1.0..=40.0),
    gauge("puls", "Puls", &["puls"], 30.0..=220.0),
    gauge("peak flow", "Peak flow", &["peak", "peakflow"], 50.0..=900.0),
    gauge("tsh", "TSH", &["tsh"], 0.01..=100.0),
    gauge("alat", "ALAT", &["alat"], 1.0..=5000.0),
    gauge("ggt", "GGT", &["ggt"], 1.0..=5000.0),
    gauge("crp", "CRP", &["crp"], 1.0..=500.0),
    gauge("ldl", "LDL", &["ldl"], 0.5..=15.0),
    gauge("kolesterol", "Kolesterol", &["kolesterol"], 1.0..=20.0),
    gauge("kalium", "Kalium", &["kalium"], 1.5..=9.0),
    gauge("kreatinin", "Kreatinin", &["kreatinin"], 10.0..=2000.0),
    gauge("hæmoglobin", "Hæmoglobin", &["hæmoglobin", "blodprocent"], 2.0..=15.0),
    Gauge { name: "vægt", shown: "Vægt", said: &["vejer", "vægt", "vejet", "kilo", "kg"], range: 2.0..=350.0, units: &["kg", "kilo"], unit: Some("kg") },
    Gauge { name: "livvidde", shown: "Livvidde", said: &["livvidde", "taljemål"], range: 40.0..=250.0, units: &["cm", "centimeter"], unit: Some("cm") },
];

const fn gauge(name: &'static str, shown: &'static str, said: &'static [&'static str], range: std::ops::RangeInclusive<f64>) -> Gauge {
    Gauge { name, shown, said, range, units: &[], unit: None }
}

/// The gauge a number at `at` reads: named near it in its sentence, else in the question.
fn gauge_for(u: &Utterance, question: Option<&Utterance>, at: usize, n: f64) -> Option<&'static Gauge> {
    let next = u.tokens.get(at + 1).and_then(Token::word);
    let fits = |g: &Gauge| g.range.contains(&n) && (g.units.is_empty() || next.is_some_and(|w| g.units.contains(&w)));
    let names = |g: &Gauge, w: &str| g.said.iter().any(|stem| w.starts_with(stem));
    let (start, end) = {
        let sentence_start = u.tokens[..at].iter().rposition(Token::is_stop).map_or(0, |p| p + 1);
        let sentence_end = u.tokens[at..].iter().position(Token::is_stop).map_or(u.tokens.len(), |p| at + p);
        (sentence_start.max(at.saturating_sub(8)), sentence_end.min(at + 4))
    };
    let near: Vec<&str> = u.tokens[start..end].iter().filter_map(Token::word).collect();
    // Named near the number; else earlier in the utterance ("HbA1c er 63. For tre måneder
    // siden var det 54."); else in the question before it.
    let earlier: Vec<&str> = u.tokens[..at].iter().filter_map(Token::word).collect();
    GAUGES
        .iter()
        .find(|g| fits(g) && near.iter().any(|w| names(g, w)))
        .or_else(|| {
            let last = earlier.iter().rev().find_map(|w| GAUGES.iter().find(|g| names(g, w)))?;
            fits(last).then_some(last)
        })
        .or_else(|| GAUGES.iter().find(|g| fits(g) && question.is_some_and(|q| q.words().any(|w| names(g, w)))))
        // "I morges havde han otteogtredive komma tre": nothing else reads like that.
        .or_else(|| (n.fract() != 0.0 && (35.0..=42.5).contains(&n)).then(|| GAUGES.iter().find(|g| g.name == "temperatur")).flatten())
}

/// Measurements in the utterance (the gauge may be named in the question before it). Returns
/// whether a temperature was found, so "Feber" is not said twice.
fn measurements(u: &Utterance, question: Option<&Utterance>, push: &mut Push) -> bool {
    if u.is_question() || (u.segment.speaker == Role::Doctor && u.label.section != Some(Section::Objektivt)) {
        return false;
    }
    let mut read: Vec<(&'static str, String)> = Vec::new();
    for (at, token) in u.tokens.iter().enumerate() {
        let before = at.checked_sub(1).and_then(|p| u.tokens[p].word());
        let next = u.tokens.get(at + 1).and_then(Token::word);
        match token {
            Token::Pressure(a, b) => read.push(("blodtryk", pressure_text(*a, *b))),
            Token::Number(n) => {
                let counts_something = next.is_some_and(|w| {
                    time_unit(w).is_some() || w.starts_with("gang") || w.starts_with("tablet") || dose_unit(w).is_some_and(|d| d != "%")
                });
                let threshold_or_clock = before.is_some_and(|w| matches!(w, "under" | "over" | "kl" | "klokken"));
                if !counts_something && !threshold_or_clock
                    && let Some(gauge) = gauge_for(u, question, at, *n)
                {
                    read.push((gauge.name, danish_number(*n)));
                }
            }
            _ => {}
        }
    }
    let fever_talk = u.words().chain(question.into_iter().flat_map(|q| q.words())).any(|w| w.starts_with("feber"));
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in &read {
        if !names.contains(name) {
            names.push(name);
        }
    }
    for name in &names {
        let values: Vec<String> = read.iter().filter(|r| r.0 == *name).map(|r| r.1.clone()).collect();
        let gauge = GAUGES.iter().find(|g| g.name == *name);
        let unit = gauge.and_then(|g| g.unit);
        // A temperature told as history ("i morges havde han 38,3") is Anamnese, as the
        // classifier hears it; every other home measurement is Objektivt.
        let history = matches!(u.label.section, Some(Section::Anamnese | Section::Kontaktaarsag));
        let section = if *name == "temperatur" && history { Section::Anamnese } else { Section::Objektivt };
        let label = if *name == "temperatur" && fever_talk { "Feber" } else { gauge.map_or("Blodtryk", |g| g.shown) };
        let shown: Vec<String> = values.iter().map(|v| unit.map_or_else(|| v.clone(), |unit| format!("{v} {unit}"))).collect();
        let data = values
            .iter()
            .map(|v| Value::Measurement { name: name.to_string(), value: v.clone(), unit: unit.map(str::to_string) })
            .collect();
        let asked: Vec<usize> = question.map(|q| q.index).into_iter().collect();
        push(section, format!("{label} {}.", shown.join(" og ")), Kind::Measurement, data, &asked);
    }
    names.contains(&"temperatur")
}

// ---------------------------------------------------------------- allergies

fn allergy(u: &Utterance, question: Option<&Utterance>, push: &mut Push) {
    let allergic = |x: &Utterance| x.has_word(|w| w.starts_with("allergi") || w == "tåler");
    if u.segment.speaker == Role::Doctor {
        return;
    }
    let stated = u.tokens.iter().enumerate().any(|(k, t)| {
        t.word().is_some_and(|w| w.starts_with("allergi") || w == "tåler") && !in_question(&u.tokens, k)
    });
    if stated && !negated_anywhere(&u.tokens) {
        let words: Vec<&str> = u.words().collect();
        let substance = words
            .iter()
            .position(|w| *w == "for" || *w == "overfor")
            .and_then(|p| words.get(p + 1))
            .map(|w| w.to_string());
        let text = match &substance {
            Some(s) => format!("Allergi over for {s}."),
            None => "Allergi.".to_string(),
        };
        push(Section::Anamnese, text, Kind::Allergy, vec![Value::Allergy { substance, present: true }], &[]);
    } else if question.is_some_and(allergic) && matches!(answer(&u.tokens), Answer::No) {
        push(
            Section::Anamnese,
            "Ingen kendt allergi.".into(),
            Kind::Allergy,
            vec![Value::Allergy { substance: None, present: false }],
            &question.map(|q| q.index).into_iter().collect::<Vec<_>>(),
        );
    }
}

fn negated_anywhere(tokens: &[Token]) -> bool {
    tokens.iter().filter_map(Token::word).any(|w| lexicon::NEGATIONS.contains(&w))
}

// ---------------------------------------------------------------- medications

fn dose_at(tokens: &[Token], i: usize) -> Option<String> {
    let n = tokens.get(i)?.number()?;
    let unit = dose_unit(tokens.get(i + 1)?.word()?)?;
    // "24 milligram per milliliter" is a strength, not a dose.
    if matches!(tokens.get(i + 2).and_then(Token::word), Some("per" | "pr" | "i"))
        && tokens.get(i + 3).and_then(Token::word).is_some_and(|w| dose_unit(w).is_some())
    {
        return None;
    }
    Some(format!("{} {unit}", danish_number(n)))
}

/// The doses after a drug as pieces of the note, each at its place in the speech and with
/// its joint: "25 mg", then ", derefter 50 mg". A dose the speaker takes back is replaced.
fn dose_pieces(tokens: &[Token], doses: &[(usize, String)]) -> Vec<(usize, String)> {
    let mut pieces: Vec<(usize, String)> = Vec::new();
    for (k, (at, dose)) in doses.iter().enumerate() {
        let Some((from, previous)) = k.checked_sub(1).map(|p| &doses[p]) else {
            pieces.push((*at, format!(" {dose}")));
            continue;
        };
        let between: Vec<&str> = tokens[*from..*at].iter().filter_map(Token::word).collect();
        if dose == previous {
            continue;
        }
        if between.iter().any(|w| CORRECTIONS.contains(w)) {
            pieces.retain(|p| p.0 < *from);
            let joint = if pieces.is_empty() { " " } else { " og " };
            pieces.push((*at, format!("{joint}{dose}")));
            continue;
        }
        let then = between.iter().any(|w| matches!(*w, "derefter" | "bagefter" | "herefter" | "så"));
        pieces.push((*at, format!("{}{dose}", if then { ", derefter " } else { " og " })));
    }
    pieces
}

/// How often, and where in `tokens` it is said.
fn frequency_at(tokens: &[Token]) -> Option<(usize, String)> {
    let words: Vec<&str> = tokens.iter().map(|t| t.word().unwrap_or("")).collect();
    for i in 0..tokens.len() {
        if let Some(n) = tokens[i].number()
            && matches!(words.get(i + 1), Some(&("gang" | "gange")))
        {
            let times = if n == 1.0 { "gang" } else { "gange" };
            let per = match (words.get(i + 2).copied(), words.get(i + 3).copied()) {
                (Some("dagligt" | "daglig"), _) | (Some("om"), Some("dagen")) => "dagligt",
                (Some("i"), Some("døgnet")) => "i døgnet",
                (Some("om"), Some("ugen")) => "om ugen",
                (Some("om"), Some("måneden")) => "om måneden",
                _ => continue,
            };
            return Some((i, format!("{} {times} {per}", danish_number(n))));
        }
    }
    ["morgen og aften", "hver morgen", "hver aften", "til aftensmaden", "til natten"].into_iter().find_map(|phrase| {
        find_phrase(tokens, phrase).first().map(|&(at, _)| (at, phrase.to_string()))
    })
}

/// How the drug at token `at` changes, read from its own clause only: in "Du stopper
/// simvastatin og tager i stedet atorvastatin" only simvastatin stops.
fn change(u: &Utterance, at: usize) -> Change {
    if u.segment.speaker == Role::Patient {
        return Change::Current;
    }
    let boundary = |t: &Token| matches!(t, Token::Punct(_)) || matches!(t.word(), Some("og" | "men"));
    let start = u.tokens[..at].iter().rposition(boundary).map_or(0, |p| p + 1);
    let end = u.tokens[at..].iter().position(boundary).map_or(u.tokens.len(), |p| at + p);
    let words: Vec<&str> = u.tokens[start..end].iter().filter_map(Token::word).collect();
    let near = |verb: &[&str], particle: &str| {
        words.iter().enumerate().any(|(i, w)| {
            verb.iter().any(|v| w.starts_with(v)) && words[i + 1..words.len().min(i + 5)].contains(&particle)
        })
    };
    let any = |stems: &[&str]| words.iter().any(|w| stems.iter().any(|s| w.starts_with(s)));
    if near(&["sætte", "sætter"], "op") || any(&["øge", "øger", "øges", "hæve", "hæver"]) {
        Change::Increased
    } else if near(&["sætte", "sætter"], "ned") || any(&["nedsætte", "reducere", "trappe", "halvere"]) {
        Change::Decreased
    } else if any(&["stop", "seponer"]) || near(&["holde", "holder"], "op") {
        Change::Stopped
    } else if any(&["forny"]) {
        Change::Renewed
    } else if any(&["starte", "starter", "begynde", "begynder", "opstart", "ordiner", "udskriv", "prøve", "skrive", "skriver", "sender"]) {
        Change::Started
    } else {
        Change::Current
    }
}

/// Forms that belong to a drug's name in the note ("hydrocortison creme").
const FORMS: &[&str] = &["creme", "salve", "gel", "mikstur", "øjendråber", "næsespray", "plaster", "stikpiller"];

/// A medication said in one utterance.
struct Mention {
    drug: &'static Drug,
    form: Option<&'static str>,
    change: Change,
    /// The dose the note gives (the first one said, after any self-correction).
    dose: Option<String>,
    /// That dose as a number and unit, to compare with later doses of the same drug.
    amount: Option<(f64, &'static str)>,
    frequency: Option<String>,
    /// Dose, tablets, frequency, course and pause, each with its joint, in the order said.
    pieces: Vec<(usize, String)>,
    from_question: bool,
}

/// Doses of each drug said so far, and where: a later, different dose is a change.
pub(crate) type DoseHistory = Vec<(&'static str, f64, &'static str, usize)>;

fn medications(u: &Utterance, question: Option<&Utterance>, history: &mut DoseHistory, push: &mut Push) {
    for mut mention in mentions_of_drugs(u, question) {
        let mut cited: Vec<usize> = if mention.from_question { question.map(|q| q.index).into_iter().collect() } else { Vec::new() };
        if let Some((amount, unit)) = mention.amount {
            let before = history.iter().rev().find(|h| h.0 == mention.drug.name && h.2 == unit).copied();
            if let Some((_, earlier, _, segment)) = before
                && mention.change == Change::Current
                && u.segment.speaker == Role::Doctor
                && matches!(u.label.section, Some(Section::Medicin | Section::Plan))
                && earlier != amount
            {
                mention.change = if amount > earlier { Change::Increased } else { Change::Decreased };
                cited.push(segment);
            }
            history.push((mention.drug.name, amount, unit, u.index));
        }
        push_medication(u, mention, &cited, push);
    }
}

fn mentions_of_drugs(u: &Utterance, question: Option<&Utterance>) -> Vec<Mention> {
    if u.has_word(|w| w.starts_with("allergi")) {
        return Vec::new();
    }
    let tokens = &u.tokens;
    let amount_at = |k: usize| -> Option<(f64, &'static str)> { Some((tokens[k].number()?, dose_unit(tokens.get(k + 1)?.word()?)?)) };
    let mut out: Vec<Mention> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let Some(drug) = token.word().and_then(drug_named) else { continue };
        if out.iter().any(|m| m.drug.name == drug.name) {
            continue;
        }
        let next_drug = (i + 1..tokens.len()).find(|&k| tokens[k].word().and_then(drug_named).is_some()).unwrap_or(tokens.len());
        let after: Vec<(usize, String)> =
            (i + 1..next_drug).filter_map(|k| dose_at(tokens, k).map(|d| (k, d))).collect();
        let doses = match after.first() {
            Some((first, _)) if *first <= i + 20 => after,
            _ => (i.saturating_sub(4)..i).rev().find_map(|k| dose_at(tokens, k).map(|d| vec![(k, d)])).unwrap_or_default(),
        };
        let mut pieces = dose_pieces(tokens, &doses);
        let dose = pieces.first().map(|p| p.1.trim().to_string());
        let amount = pieces.first().and_then(|p| amount_at(p.0));
        // Tablets follow the dose in the note, wherever they were said ("to tabletter af fem
        // hundrede milligram" → "500 mg, 2 tabletter").
        let after_dose = pieces.first().map_or(0, |p| p.0);
        let tablets = (i + 1..next_drug.min(i + 9)).find_map(|k| {
            let n = tokens[k].number()?;
            tokens.get(k + 1)?.word()?.starts_with("tablet").then(|| {
                (k.max(after_dose), format!(", {} {}", danish_number(n), if n == 1.0 { "tablet" } else { "tabletter" }))
            })
        });
        let frequency = frequency_at(tokens);
        let course = duration_at(tokens).filter(|d| d.1.starts_with("i "));
        let pause = (0..tokens.len()).find_map(|k| {
            let n = tokens[k].number()?;
            (tokens.get(k + 1)?.word()? == "dages" && tokens.get(k + 2)?.word()? == "pause")
                .then(|| (k, format!(" {} dages pause", danish_number(n))))
        });
        let change = change(u, i);
        let described = dose.is_some() || tablets.is_some() || frequency.is_some();
        let changed = matches!(change, Change::Stopped | Change::Increased | Change::Decreased);
        // A bare name is better left to the summary of what was said ("Har taget paracetamol").
        if (described && !(u.is_question() && dose.is_none())) || changed {
            let form = tokens.get(i + 1).and_then(Token::word).and_then(|w| FORMS.iter().copied().find(|f| *f == w));
            let said_frequency = frequency.as_ref().map(|f| f.1.clone());
            let timing = [frequency, course].into_iter().flatten().map(|(at, text)| (at, format!(" {text}")));
            pieces.extend(tablets.into_iter().chain(timing).chain(pause));
            pieces.sort_by_key(|p| p.0);
            out.push(Mention { drug, form, change, dose, amount, frequency: said_frequency, pieces, from_question: false });
        }
    }
    // "Hvor meget levothyroxin tager du?" – "Hundrede mikrogram": the drug is in the question.
    if let Some(q) = question.filter(|_| out.is_empty() && !tokens.iter().any(|t| t.word().and_then(drug_named).is_some())) {
        let mut named: Vec<&'static Drug> = q.tokens.iter().filter_map(|t| t.word().and_then(drug_named)).collect();
        named.dedup_by_key(|d| d.name);
        let doses: Vec<(usize, String)> = (0..tokens.len()).filter_map(|k| dose_at(tokens, k).map(|d| (k, d))).collect();
        if let [drug] = named.as_slice()
            && !doses.is_empty()
        {
            let mut pieces = dose_pieces(tokens, &doses);
            let dose = pieces.first().map(|p| p.1.trim().to_string());
            let amount = pieces.first().and_then(|p| amount_at(p.0));
            let frequency = frequency_at(tokens);
            pieces.extend(frequency.iter().map(|(at, text)| (*at, format!(" {text}"))));
            pieces.sort_by_key(|p| p.0);
            out.push(Mention {
                drug,
                form: None,
                change: Change::Current,
                dose,
                amount,
                frequency: frequency.map(|f| f.1),
                pieces,
                from_question: true,
            });
        }
    }
    out
}

fn push_medication(u: &Utterance, mention: Mention, cited: &[usize], push: &mut Push) {
    let Mention { drug, form, change, dose, frequency, pieces, .. } = mention;
    let mut text = match form {
        Some(form) => format!("{} {form}", capitalise(drug.name)),
        None => capitalise(drug.name),
    };
    match change {
        Change::Stopped => text.push_str(" seponeres"),
        Change::Increased => text.push_str(if dose.is_some() { " øges til" } else { " øges" }),
        Change::Decreased => text.push_str(if dose.is_some() { " nedsættes til" } else { " nedsættes" }),
        _ => {}
    }
    if change != Change::Stopped {
        pieces.iter().for_each(|(_, piece)| text.push_str(piece));
    }
    let section = match change {
        Change::Started | Change::Increased | Change::Decreased | Change::Stopped => Section::Medicin,
        Change::Renewed => Section::Plan,
        Change::Current => match u.label.section {
            Some(Section::Plan) => Section::Plan,
            Some(Section::Medicin) => Section::Medicin,
            _ => Section::Anamnese,
        },
    };
    let value = Value::Medication { name: drug.name.to_string(), atc: drug.atc.to_string(), dose, frequency, change };
    push(section, format!("{text}."), Kind::Medication, vec![value], cited);
}

// ---------------------------------------------------------------- plan

/// Words for meeting or talking again.
const FOLLOW_UP: &[&str] = &["kontrol", "kontrollen", "ses", "ser", "tid", "snakkes", "snakker", "tale", "ringer", "video", "videokonsultation"];

const BLOOD_TESTS: &[&str] =
    &["nyretal", "levertal", "urinsyre", "kolesterol", "stofskifte", "crp", "blodprocent", "langtidsblodsukker", "infektionstal"];

fn plan_actions(u: &Utterance, push: &mut Push) {
    let words: Vec<&str> = u.words().collect();
    let has = |stem: &str| words.iter().any(|w| w.starts_with(stem));
    let text = words.join(" ");
    let mut action = |name: &str, text: String, detail: Option<String>| {
        push(Section::Plan, text, Kind::PlanAction, vec![Value::Plan { action: name.to_string(), detail }], &[]);
    };
    // "Mål blodtrykket om tre uger. Og så ser vi hinanden til kontrol om fire uger": the time
    // that follows the word for meeting again is the follow-up.
    let meeting = u.tokens.iter().position(|t| t.word().is_some_and(|w| FOLLOW_UP.contains(&w))).unwrap_or(0);
    let in_time = |from: usize| {
        (from.max(1)..u.tokens.len()).find_map(|i| {
            let n = u.tokens[i].number()?;
            let unit = time_unit(u.tokens.get(i + 1)?.word()?)?;
            (u.tokens[i - 1].word() == Some("om")).then(|| time_phrase(n, unit))
        })
    };
    let follow_up = in_time(meeting).or_else(|| in_time(0));
    let control_said = has("kontrol") || has("ses") || has("ser") || has("snakke") || has("tale");
    let within = (0..u.tokens.len())
        .find_map(|i| {
            let n = u.tokens[i].number()?;
            let unit = time_unit(u.tokens.get(i + 1)?.word()?)?;
            (i >= 2 && u.tokens[i - 2].word() == Some("inden") && u.tokens[i - 1].word() == Some("for"))
                .then(|| format!("inden for {}", time_phrase(n, unit)))
        })
        .or_else(|| follow_up.as_ref().filter(|_| !control_said).map(|when| format!("om {when}")));
    if has("blodprøve") {
        let tests: Vec<&str> = BLOOD_TESTS.iter().copied().filter(|t| words.iter().any(|w| w.starts_with(t))).collect();
        let mut line = "Blodprøver".to_string();
        if !tests.is_empty() {
            line.push_str(&format!(" ({})", tests.join(", ")));
        }
        if let Some(w) = &within {
            line.push_str(&format!(" {w}"));
        }
        action("blodprøver", format!("{line}."), within.clone());
    } else if has("crp") {
        action("crp", "CRP.".into(), None);
    }
    let tomorrow = text.contains("i morgen").then(|| "i morgen".to_string());
    if has("podning") || words.iter().any(|w| *w == "pode" || *w == "podes") {
        let line = tomorrow.as_ref().map_or("Podning.".to_string(), |t| format!("Podning {t}."));
        action("podning", line, tomorrow.clone());
    }
    for (stem, name) in [("urinprøve", "Urinprøve"), ("afføringsprøve", "Afføringsprøve"), ("røntgen", "Røntgen"), ("scanning", "Scanning"), ("ekg", "EKG")] {
        if has(stem) {
            let helicobacter = (stem == "afføringsprøve" && has("helicobacter")).then(|| " for helicobacter".to_string());
            action(&stem.to_string(), format!("{name}{}.", helicobacter.clone().unwrap_or_default()), helicobacter);
        }
    }
    if let Some(diary) = words.iter().find(|w| w.ends_with("dagbog")) {
        action("dagbog", format!("{}.", capitalise(diary)), None);
    }
    if has("henvis")
        && let Some(p) = words.iter().position(|w| *w == "til")
        && let Some(to) = words[p + 1..].iter().find(|w| !matches!(**w, "en" | "et" | "din" | "dit" | "den" | "det" | "jeres"))
    {
        // "til kommunens rygestopforløb": a genitive needs the noun it belongs to.
        let whom = match words.iter().position(|w| w == to).and_then(|k| words.get(k + 1)) {
            Some(noun) if to.ends_with('s') && to.len() > 3 => format!("{to} {noun}"),
            _ => to.to_string(),
        };
        action("henvisning", format!("Henvisning til {whom}."), Some(whom.clone()));
    }
    if has("sygemeld") {
        // "en sygemelding på en uge", "sygemeldt i to uger", "resten af ugen".
        let span = (0..u.tokens.len()).find_map(|i| {
            let n = u.tokens[i].number()?;
            let unit = time_unit(u.tokens.get(i + 1)?.word()?)?;
            Some(format!("i {}", time_phrase(n, unit)))
        });
        let rest_of_week = text.contains("resten af ugen").then(|| "resten af ugen".to_string());
        let line = span.or(rest_of_week).map_or("Sygemelding.".into(), |d| format!("Sygemelding {d}."));
        action("sygemelding", line, None);
    }
    if has("tolk") {
        action("tolk", "Tolk.".into(), None);
    }
    if has("recept") {
        let plural = has("recepter");
        let line = match (has("forny"), plural) {
            (true, true) => "Recepter fornyet.",
            (true, false) => "Recept fornyet.",
            (false, _) => "Recept.",
        };
        action("recept", line.into(), None);
    }
    let blood_tests_then = has("blodprøve") && !control_said;
    if (words.iter().any(|w| FOLLOW_UP.contains(w)) || u.label.section == Some(Section::Plan)) && !blood_tests_then {
        if let Some(when) = follow_up {
            action("kontrol", format!("Kontrol om {when}."), Some(when.clone()));
        } else if has("ringer") && tomorrow.is_some() && !has("podning") {
            action("kontrol", "Telefonisk kontrol i morgen.".into(), tomorrow.clone());
        }
    }
    let safety_net = words.iter().any(|w| w.starts_with("ring") || w.starts_with("kontakt")) && words.contains(&"hvis");
    if safety_net {
        let named: Vec<&str> = mentions(&u.tokens).iter().filter(|m| !m.2).map(|m| m.0.name).collect();
        if !named.is_empty() {
            action("kontakt", format!("Kontakt ved {}.", named.join(" eller ")), None);
        } else if has("værre") || has("forværr") {
            action("kontakt", "Kontakt ved forværring.".into(), None);
        }
    }
}

// ---------------------------------------------------------------- summaries

const FILLERS: &[&str] = &["ja", "jo", "okay", "ok", "øh", "øhm", "hm", "nå", "jamen", "men", "så", "og", "altså", "godt", "fint", "nej"];
const SOCIAL: &[&str] = &[
    "tak", "hej", "goddag", "farvel", "selv", "bedring", "god", "dag", "det", "er", "i", "orden", "lægen", "her",
    "kan", "du", "høre", "mig", "jeg", "dig", "ja", "nej", "okay", "fint", "godt", "hav", "hej", "lige", "måde",
];

/// Words that carry no content on their own: a sentence of only these ("Det har jeg ikke.",
/// "Det må være.") means nothing without its question and stays out of the note.
const FUNCTION_WORDS: &[&str] = &[
    "det", "den", "de", "dem", "der", "jeg", "du", "han", "hun", "vi", "man", "har", "havde", "er", "var", "ikke",
    "ingen", "aldrig", "ja", "nej", "så", "og", "men", "at", "en", "et", "i", "på", "med", "til", "af", "for", "som",
    "om", "vel", "lidt", "mere", "egentlig", "måske", "bare", "jo", "nok", "sådan", "noget", "nogle", "kan", "skal",
    "vil", "ville", "må", "gør", "gjorde", "have", "haft", "være", "været", "altså", "her", "nu", "da", "også",
    "meget", "sige", "siger", "sagde", "tror", "synes", "ved", "rigtig", "rigtigt", "helt", "lige", "cirka", "ca",
    "næsten", "øh", "hm", "sikkert", "delene", "andet", "ellers", "heller", "hvad", "hvor", "hvis", "når", "end",
    "mig", "dig", "sig", "os", "min", "din", "sin", "vores", "jeres", "deres", "hans", "hendes", "eller", "fra",
];

/// The utterance shortened to note style, where it belongs in a section that summaries serve.
fn summary(u: &Utterance, structured: bool, reason_open: bool) -> Option<(Section, String)> {
    let section = u.label.section?;
    let patient = u.segment.speaker != Role::Doctor;
    let wanted = match section {
        Section::Kontaktaarsag => reason_open && !structured,
        Section::Vurdering => !patient,
        Section::Objektivt | Section::Medicin | Section::Plan => true,
        Section::Anamnese => patient,
    };
    if !wanted {
        return None;
    }
    // Where rules found structure, only the sentences they did not read are summarised.
    let sentences = sentences(&u.tokens);
    let kept: Vec<String> = sentences
        .iter()
        .filter(|s| !structured || !read_by_rules(s))
        .filter_map(|s| telegraphic(s, patient))
        .take(if section == Section::Vurdering || section == Section::Kontaktaarsag { 1 } else { 3 })
        .collect();
    (!kept.is_empty()).then(|| (section, kept.join(" ")))
}

/// Does the sentence hold something a rule extracts (a symptom, drug, dose, measurement or
/// plan action), so that a summary of it would say the same thing twice?
fn read_by_rules(sentence: &[Token]) -> bool {
    const PLAN: &[&str] = &["blodprøve", "podning", "urinprøve", "afføringsprøve", "henvis", "sygemeld", "recept", "kontrol", "røntgen", "ekg"];
    let words: Vec<&str> = sentence.iter().filter_map(Token::word).collect();
    !mentions(sentence).is_empty()
        || words.iter().any(|w| drug_named(w).is_some() || PLAN.iter().any(|p| w.starts_with(p)))
        || words.iter().any(|w| GAUGES.iter().any(|g| g.said.iter().any(|stem| w.starts_with(stem))))
        || sentence.iter().any(|t| matches!(t, Token::Pressure(..)) || t.number().is_some_and(|n| n.fract() != 0.0))
        || (0..sentence.len()).any(|k| sentence[k].number().is_some() && sentence.get(k + 1).and_then(Token::word).and_then(dose_unit).is_some())
}

/// Statement sentences (questions dropped), each without its final punctuation.
fn sentences(tokens: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.is_stop() || i + 1 == tokens.len() {
            let end = if t.is_stop() { i } else { i + 1 };
            if *t != Token::Punct('?') && end > start {
                out.push(&tokens[start..end]);
            }
            start = i + 1;
        }
    }
    out
}

/// A sentence in note style, or `None` when it carries too little to stand alone (two content
/// words at least: "Drik rigeligt." stays, "Flot." and "Hej Oscar." go).
fn telegraphic(sentence: &[Token], patient: bool) -> Option<String> {
    let mut rest = sentence;
    while let Some(first) = rest.first() {
        match first {
            Token::Punct(_) => rest = &rest[1..],
            Token::Word(w) if FILLERS.contains(&w.as_str()) && rest.len() > 2 => rest = &rest[1..],
            _ => break,
        }
    }
    if patient && rest.first().and_then(Token::word) == Some("jeg") && rest.get(1).and_then(Token::word).is_some() {
        rest = &rest[1..];
    }
    let words: Vec<&str> = rest.iter().filter_map(Token::word).collect();
    // A number says something with its unit or noun after it ("3 måneder"); a bare run of
    // numbers is counting aloud.
    let numbers = rest
        .iter()
        .zip(rest.iter().skip(1).map(Some).chain([None]))
        .filter(|(t, next)| {
            matches!(t, Token::Pressure(..))
                || t.number().is_some_and(|n| n.fract() != 0.0 || next.is_some_and(|n| n.word().is_some()))
        })
        .count();
    let content = numbers + words.iter().filter(|w| !FUNCTION_WORDS.contains(w) && !SOCIAL.contains(w)).count();
    if content < 2 {
        return None;
    }
    Some(sentence_from(rest))
}

fn sentence_from(tokens: &[Token]) -> String {
    let mut out = String::new();
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Punct(p) => {
                out.push(*p);
                continue;
            }
            _ if !out.is_empty() => out.push(' '),
            _ => {}
        }
        match token {
            Token::Word(w) if w == "klokken" && tokens.get(i + 1).and_then(Token::number).is_some() => out.push_str("kl."),
            Token::Word(w) => out.push_str(w),
            Token::Number(n) => out.push_str(&danish_number(*n)),
            Token::Pressure(a, b) => out.push_str(&pressure_text(*a, *b)),
            Token::Punct(_) => {}
        }
    }
    sentence(out.trim_end_matches([',', ':', ';']))
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

fn sentence(text: &str) -> String {
    format!("{}.", capitalise(text))
}
