//! The rules: from classified utterances to candidate statements in note style.
//!
//! Rules find structure (symptoms with negation and duration, measurements, medications,
//! allergies, plan actions); the classifier decides which utterances matter and, where a rule
//! does not fix it, which section they belong to. Every candidate names the segments it came
//! from; the verifier checks it against them before it may enter the note.

use transcript::{Role, Segment};

use crate::classifier::{Label, Section};
use crate::draft::{Change, Kind, Value};
use crate::lexicon::{self, Drug, SYMPTOMS, Symptom, dose_unit, drug_named, time_unit, word_matches};
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
        .map(|(segment, label)| Utterance { segment, tokens: tokenize(&segment.text), label: *label })
        .collect();
    let mut out = Vec::new();
    let mut reasons_given = 0;
    for (i, u) in utterances.iter().enumerate() {
        let question = i
            .checked_sub(1)
            .map(|p| &utterances[p])
            .filter(|q| q.segment.speaker == Role::Doctor && q.is_question() && u.segment.speaker != Role::Doctor);
        let before = out.len();
        let mut push = |section: Section, text: String, kind: Kind, values: Vec<Value>, with_question: bool| {
            let mut used = Vec::new();
            if with_question && question.is_some() {
                used.push(i - 1);
            }
            used.push(i);
            out.push(Candidate { section, text, kind, values, segments: used, probability: u.label.probability });
        };
        let symptoms = symptom_findings(u, question);
        if u.label.section == Some(Section::Kontaktaarsag) && reasons_given < 2 {
            for finding in symptoms.iter().filter(|f| f.present) {
                push(Section::Kontaktaarsag, sentence(finding.symptom.name), Kind::Symptom, vec![finding.value()], false);
                reasons_given += 1;
            }
        }
        let temperatures = measurements(u, question, &mut push);
        for finding in &symptoms {
            let fever_with_value = finding.symptom.name == "feber" && finding.present && temperatures;
            if fever_with_value || (finding.present && u.label.section == Some(Section::Kontaktaarsag) && finding.duration.is_none() && finding.onset.is_none()) {
                continue;
            }
            push(Section::Anamnese, finding.text(), Kind::Symptom, vec![finding.value()], finding.from_question);
        }
        allergy(u, question, &mut push);
        medications(u, &mut push);
        if u.segment.speaker != Role::Patient && u.label.section.is_some() && !u.is_question() {
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
            let lead = if self.symptom.noun { "Ingen" } else { "Ikke" };
            return format!("{lead} {}.", self.symptom.name);
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

/// Positions of the words of `pattern` (space-separated, `*` endings) as a run of word tokens.
fn find_phrase(tokens: &[Token], pattern: &str) -> Vec<usize> {
    let parts: Vec<&str> = pattern.split(' ').collect();
    (0..tokens.len())
        .filter(|&start| {
            parts.iter().enumerate().all(|(k, part)| {
                tokens.get(start + k).and_then(Token::word).is_some_and(|w| word_matches(part, w))
            })
        })
        .collect()
}

fn clause_bounds(tokens: &[Token], at: usize) -> (usize, usize) {
    let start = tokens[..at].iter().rposition(|t| matches!(t, Token::Punct(_))).map_or(0, |p| p + 1);
    let end = tokens[at..].iter().position(|t| matches!(t, Token::Punct(_))).map_or(tokens.len(), |p| at + p);
    (start, end)
}

fn negated(tokens: &[Token], at: usize) -> bool {
    let (start, end) = clause_bounds(tokens, at);
    tokens[start..end].iter().filter_map(Token::word).any(|w| lexicon::NEGATIONS.contains(&w) && w != "nej")
}

/// Symptoms said in `tokens`, first mention of each, with negation.
fn mentions(tokens: &[Token]) -> Vec<(&'static Symptom, usize, bool)> {
    let mut found: Vec<(&'static Symptom, usize, bool)> = Vec::new();
    let mut covered = vec![false; tokens.len()];
    for symptom in SYMPTOMS {
        for pattern in symptom.said {
            let len = pattern.split(' ').count();
            for at in find_phrase(tokens, pattern) {
                if covered[at..at + len].iter().any(|&c| c) || found.iter().any(|f| std::ptr::eq(f.0, symptom)) {
                    continue;
                }
                covered[at..at + len].iter_mut().for_each(|c| *c = true);
                found.push((symptom, at, negated(tokens, at)));
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

fn answer(tokens: &[Token]) -> Answer {
    let words: Vec<&str> = tokens.iter().filter_map(Token::word).collect();
    match words.first().copied() {
        Some("nej" | "næ" | "nope") => Answer::No,
        Some("ja" | "jo" | "jah" | "jep") => Answer::Yes,
        _ if words.windows(2).any(|w| w == ["har", "ikke"] || w == ["ikke", "som"] || w == ["ingen", "af"]) => {
            Answer::No
        }
        _ => Answer::Unclear,
    }
}

fn symptom_findings(u: &Utterance, question: Option<&Utterance>) -> Vec<SymptomFinding> {
    if u.segment.speaker == Role::Doctor {
        return Vec::new();
    }
    let duration = duration(&u.tokens);
    let onset = onset(&u.tokens);
    let mut findings: Vec<SymptomFinding> = mentions(&u.tokens)
        .into_iter()
        .map(|(symptom, _, negated)| SymptomFinding {
            symptom,
            present: !negated,
            duration: duration.clone().filter(|_| !negated),
            onset: onset.clone().filter(|_| !negated),
            from_question: false,
        })
        .collect();
    let Some(q) = question else { return findings };
    let reply = answer(&u.tokens);
    for (symptom, _, _) in mentions(&q.tokens) {
        if findings.iter().any(|f| std::ptr::eq(f.symptom, symptom)) {
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

fn time_phrase(n: f64, unit: (&str, &str)) -> String {
    let noun = if n == 1.0 { unit.0 } else { unit.1 };
    format!("{} {noun}", danish_number(n))
}

/// "i tre dage" → "i 3 dage", "for to uger siden" → "for 2 uger siden".
fn duration(tokens: &[Token]) -> Option<String> {
    (0..tokens.len()).find_map(|i| {
        let n = tokens[i].number()?;
        let unit = time_unit(tokens.get(i + 1)?.word()?)?;
        let before = i.checked_sub(1).and_then(|p| tokens[p].word());
        let after = tokens.get(i + 2).and_then(Token::word);
        match (before, after) {
            (Some("for"), Some("siden")) => Some(format!("for {} siden", time_phrase(n, unit))),
            (Some("i" | "sidste" | "snart" | "næsten" | "over" | "ca" | "cirka" | "omkring"), _) => {
                Some(format!("i {}", time_phrase(n, unit)))
            }
            _ => None,
        }
    })
}

const WEEKDAYS: &[&str] =
    &["mandags", "tirsdags", "onsdags", "torsdags", "fredags", "lørdags", "søndags", "går", "forgårs", "weekenden", "morges"];

/// "siden i søndags", "i går morges", kept as said.
fn onset(tokens: &[Token]) -> Option<String> {
    let words: Vec<&str> = tokens.iter().map(|t| t.word().unwrap_or("")).collect();
    (0..words.len()).find_map(|i| {
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

type Push<'p> = dyn FnMut(Section, String, Kind, Vec<Value>, bool) + 'p;

/// Measurements in the utterance (context words may be in the doctor's question). Returns
/// whether a temperature was found, so "Feber" is not said twice.
fn measurements(u: &Utterance, question: Option<&Utterance>, push: &mut Push) -> bool {
    let context: Vec<&str> = u.words().chain(question.into_iter().flat_map(|q| q.words())).collect();
    let said = |stems: &[&str]| context.iter().any(|w| stems.iter().any(|s| w.starts_with(s)));
    let from_question = question.is_some();
    let numbers: Vec<(f64, Option<&str>)> = u
        .tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let next = u.tokens.get(i + 1).and_then(Token::word);
            let n = t.number()?;
            let counts_time = next.is_some_and(|w| time_unit(w).is_some() || w.starts_with("gang") || w.starts_with("tablet"));
            (!counts_time && !next.is_some_and(|w| dose_unit(w).is_some_and(|d| d != "%"))).then_some((n, next))
        })
        .collect();
    let pick = |range: std::ops::RangeInclusive<f64>| -> Vec<f64> {
        numbers.iter().map(|(n, _)| *n).filter(|n| range.contains(n)).collect()
    };
    let mut emit = |section: Section, name: &str, values: Vec<String>, unit: Option<&str>| {
        if values.is_empty() {
            return;
        }
        let shown = match unit {
            Some(unit) => values.iter().map(|v| format!("{v} {unit}")).collect::<Vec<_>>(),
            None => values.clone(),
        };
        let label = if name == "feber" { "Feber".to_string() } else { capitalise(name) };
        let data = values
            .iter()
            .map(|v| Value::Measurement { name: name.to_string(), value: v.clone(), unit: unit.map(str::to_string) })
            .collect();
        push(section, format!("{label} {}.", shown.join(" og ")), Kind::Measurement, data, from_question);
    };

    let pressures: Vec<String> = u
        .tokens
        .iter()
        .filter_map(|t| match t {
            Token::Pressure(a, b) => Some(pressure_text(*a, *b)),
            _ => None,
        })
        .collect();
    emit(Section::Objektivt, "blodtryk", pressures, None);
    let as_text = |v: Vec<f64>| v.into_iter().map(danish_number).collect::<Vec<_>>();
    if said(&["puls"]) {
        emit(Section::Objektivt, "puls", as_text(pick(30.0..=220.0)), None);
    }
    if said(&["iltmætning", "saturation", "mætning"]) {
        emit(Section::Objektivt, "iltmætning", as_text(pick(50.0..=100.0)), None);
    }
    if said(&["langtidsblodsukker", "hba1c"]) {
        emit(Section::Objektivt, "langtidsblodsukker", as_text(pick(20.0..=200.0)), None);
    } else if said(&["blodsukker"]) {
        emit(Section::Objektivt, "blodsukker", as_text(pick(1.0..=40.0)), None);
    }
    let with_unit = |units: &[&str], range: std::ops::RangeInclusive<f64>| -> Vec<String> {
        numbers
            .iter()
            .filter(|(n, next)| range.contains(n) && next.is_some_and(|w| units.contains(&w)))
            .map(|(n, _)| danish_number(*n))
            .collect()
    };
    if said(&["livvidde", "taljemål"]) {
        emit(Section::Objektivt, "livvidde", with_unit(&["cm", "centimeter"], 40.0..=250.0), Some("cm"));
    }
    if said(&["vejer", "vægt", "vejet", "kilo", "kg"]) {
        emit(Section::Objektivt, "vægt", with_unit(&["kg", "kilo"], 2.0..=350.0), Some("kg"));
    }
    let temperatures = if said(&["feber", "temperatur", "grader", "målt", "målte", "termometer"]) {
        as_text(pick(35.0..=43.0))
    } else {
        Vec::new()
    };
    let found = !temperatures.is_empty();
    if said(&["feber"]) && u.label.section != Some(Section::Objektivt) {
        emit(Section::Anamnese, "feber", temperatures, None);
    } else {
        emit(Section::Objektivt, "temperatur", temperatures, None);
    }
    found
}

// ---------------------------------------------------------------- allergies

fn allergy(u: &Utterance, question: Option<&Utterance>, push: &mut Push) {
    let allergic = |x: &Utterance| x.has_word(|w| w.starts_with("allergi") || w == "tåler");
    if u.segment.speaker == Role::Doctor {
        return;
    }
    if allergic(u) && !negated_anywhere(&u.tokens) {
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
        push(Section::Anamnese, text, Kind::Allergy, vec![Value::Allergy { substance, present: true }], false);
    } else if question.is_some_and(allergic) && matches!(answer(&u.tokens), Answer::No) {
        push(
            Section::Anamnese,
            "Ingen kendt allergi.".into(),
            Kind::Allergy,
            vec![Value::Allergy { substance: None, present: false }],
            true,
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
    Some(format!("{} {unit}", danish_number(n)))
}

fn frequency(tokens: &[Token]) -> Option<String> {
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
            return Some(format!("{} {times} {per}", danish_number(n)));
        }
    }
    let text = words.join(" ");
    ["morgen og aften", "hver morgen", "hver aften", "til aftensmaden", "til natten"]
        .into_iter()
        .find(|p| text.contains(p))
        .map(str::to_string)
}

fn change(u: &Utterance) -> Change {
    if u.segment.speaker == Role::Patient {
        return Change::Current;
    }
    let words: Vec<&str> = u.words().collect();
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
    } else if any(&["stoppe", "stopper", "seponer", "holde op"]) {
        Change::Stopped
    } else if any(&["forny"]) {
        Change::Renewed
    } else if any(&["starte", "starter", "begynde", "begynder", "opstart", "ordiner", "udskriv", "prøve", "skrive", "skriver", "sender"]) {
        Change::Started
    } else {
        Change::Current
    }
}

fn medications(u: &Utterance, push: &mut Push) {
    let tokens = &u.tokens;
    let mut seen: Vec<&'static str> = Vec::new();
    let change = change(u);
    for (i, token) in tokens.iter().enumerate() {
        let Some(drug) = token.word().and_then(drug_named) else { continue };
        if seen.contains(&drug.name) {
            continue;
        }
        seen.push(drug.name);
        let next_drug = (i + 1..tokens.len()).find(|&k| tokens[k].word().and_then(drug_named).is_some()).unwrap_or(tokens.len());
        let dose = (i + 1..next_drug.min(i + 9))
            .find_map(|k| dose_at(tokens, k))
            .or_else(|| (i.saturating_sub(4)..i).rev().find_map(|k| dose_at(tokens, k)));
        let tablets = (i + 1..next_drug.min(i + 9)).find_map(|k| {
            let n = tokens[k].number()?;
            tokens.get(k + 1)?.word()?.starts_with("tablet").then(|| {
                format!("{} {}", danish_number(n), if n == 1.0 { "tablet" } else { "tabletter" })
            })
        });
        let frequency = frequency(tokens);
        let course = duration(tokens).filter(|d| d.starts_with("i "));
        let pause = (0..tokens.len()).find_map(|k| {
            let n = tokens[k].number()?;
            (tokens.get(k + 1)?.word()? == "dages" && tokens.get(k + 2)?.word()? == "pause")
                .then(|| format!("{} dages pause", danish_number(n)))
        });
        push_medication(u, drug, change, dose, [tablets, frequency, course, pause], push);
    }
}

fn push_medication(u: &Utterance, drug: &Drug, change: Change, dose: Option<String>, details: [Option<String>; 4], push: &mut Push) {
    let [tablets, frequency, course, pause] = details;
    let name = capitalise(drug.name);
    let mut parts: Vec<String> = Vec::new();
    let head = match (change, &dose) {
        (Change::Increased, Some(d)) => format!("{name} øges til {d}"),
        (Change::Decreased, Some(d)) => format!("{name} nedsættes til {d}"),
        (Change::Stopped, _) => format!("{name} seponeres"),
        (_, Some(d)) => format!("{name} {d}"),
        (_, None) => name,
    };
    parts.push(head);
    if change != Change::Stopped {
        parts.extend([tablets, frequency.clone(), course, pause].into_iter().flatten());
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
    push(section, format!("{}.", parts.join(", ")), Kind::Medication, vec![value], false);
}

// ---------------------------------------------------------------- plan

const BLOOD_TESTS: &[&str] =
    &["nyretal", "levertal", "urinsyre", "kolesterol", "stofskifte", "crp", "blodprocent", "langtidsblodsukker", "infektionstal"];

fn plan_actions(u: &Utterance, push: &mut Push) {
    let words: Vec<&str> = u.words().collect();
    let has = |stem: &str| words.iter().any(|w| w.starts_with(stem));
    let text = words.join(" ");
    let mut action = |name: &str, text: String, detail: Option<String>| {
        push(Section::Plan, text, Kind::PlanAction, vec![Value::Plan { action: name.to_string(), detail }], false);
    };
    let within = (0..u.tokens.len()).find_map(|i| {
        let n = u.tokens[i].number()?;
        let unit = time_unit(u.tokens.get(i + 1)?.word()?)?;
        (i >= 2 && u.tokens[i - 2].word() == Some("inden") && u.tokens[i - 1].word() == Some("for"))
            .then(|| format!("inden for {}", time_phrase(n, unit)))
    });
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
        action("henvisning", format!("Henvisning til {to}."), Some(to.to_string()));
    }
    if has("sygemeld") {
        let line = duration(&u.tokens).filter(|d| d.starts_with("i ")).map_or("Sygemelding.".into(), |d| format!("Sygemelding {d}."));
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
    let follow_up_words = ["kontrol", "kontrollen", "ses", "ser", "tid", "snakkes", "snakker", "tale", "ringer", "video", "videokonsultation"];
    if words.iter().any(|w| follow_up_words.contains(w)) || u.label.section == Some(Section::Plan) {
        let follow_up = (1..u.tokens.len()).find_map(|i| {
            let n = u.tokens[i].number()?;
            let unit = time_unit(u.tokens.get(i + 1)?.word()?)?;
            (u.tokens[i - 1].word() == Some("om")).then(|| time_phrase(n, unit))
        });
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

/// The utterance shortened to note style, where it belongs in a section that summaries serve.
fn summary(u: &Utterance, structured: bool, reason_open: bool) -> Option<(Section, String)> {
    let section = u.label.section?;
    let patient = u.segment.speaker != Role::Doctor;
    let wanted = match section {
        Section::Kontaktaarsag => reason_open && !structured,
        Section::Vurdering => !patient,
        Section::Objektivt | Section::Medicin | Section::Plan => !structured,
        Section::Anamnese => patient && !structured,
    };
    if !wanted {
        return None;
    }
    let sentences = sentences(&u.tokens);
    let kept: Vec<String> = sentences
        .iter()
        .filter_map(|s| telegraphic(s, patient))
        .take(if section == Section::Vurdering || section == Section::Kontaktaarsag { 1 } else { 3 })
        .collect();
    (!kept.is_empty()).then(|| (section, kept.join(" ")))
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
    if rest.len() < 2 || words.iter().all(|w| SOCIAL.contains(w)) {
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
