//! Drugs with dose, frequency and course, and how they change at this consultation.

use super::*;

pub(super) fn dose_at(tokens: &[Token], i: usize) -> Option<String> {
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
pub(super) fn dose_pieces(tokens: &[Token], doses: &[(usize, String)]) -> Vec<(usize, String)> {
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
pub(super) fn frequency_at(tokens: &[Token]) -> Option<(usize, String)> {
    let words: Vec<&str> = tokens.iter().map(|t| t.word().unwrap_or("")).collect();
    for (i, token) in tokens.iter().enumerate() {
        if let Some(n) = token.number()
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
    ["morgen og aften", "hver morgen", "hver aften", "til aftensmaden", "til natten"]
        .into_iter()
        .find_map(|phrase| find_phrase(tokens, phrase).first().map(|&(at, _)| (at, phrase.to_string())))
}

/// How the drug at token `at` changes, read from its own clause only: in "Du stopper
/// simvastatin og tager i stedet atorvastatin" only simvastatin stops.
pub(super) fn change(u: &Utterance, at: usize) -> Change {
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
    // "Du skal ikke stoppe med Eliquis": a change said with a negation is the drug going on
    // as it is, never the change.
    if words.iter().any(|w| matches!(*w, "ikke" | "aldrig")) {
        return Change::Current;
    }
    // Whole verb forms where a prefix would catch other words: "hævede ankler" are swollen, not
    // raised, and "trappen" is a staircase.
    let form = |forms: &[&str]| words.iter().any(|w| forms.contains(w));
    if near(&["sætte", "sætter"], "op") || form(&["øge", "øger", "øges", "hæve", "hæver", "hæves"]) {
        Change::Increased
    } else if near(&["sætte", "sætter"], "ned")
        || any(&["nedsætte", "reducere", "halvere"])
        || form(&[
            "trappe",
            "trapper",
            "trappes",
            "udtrappe",
            "udtrapper",
            "udtrappes",
            "nedtrappe",
            "nedtrapper",
            "nedtrappes",
        ])
    {
        Change::Decreased
    } else if any(&["stop", "seponer"]) || near(&["holde", "holder"], "op") {
        Change::Stopped
    } else if any(&["forny"]) {
        Change::Renewed
    } else if any(&[
        "starte", "starter", "begynde", "begynder", "opstart", "ordiner", "udskriv", "prøve", "skrive", "skriver",
        "sender",
    ]) {
        Change::Started
    } else {
        Change::Current
    }
}

/// Forms that belong to a drug's name in the note ("hydrocortison creme").
pub(super) const FORMS: &[&str] =
    &["creme", "salve", "gel", "mikstur", "øjendråber", "næsespray", "plaster", "stikpiller"];

/// A medication said in one utterance.
pub(super) struct Mention {
    pub(super) drug: &'static Drug,
    pub(super) form: Option<&'static str>,
    pub(super) change: Change,
    /// The dose the note gives (the first one said, after any self-correction).
    pub(super) dose: Option<String>,
    /// That dose as a number and unit, to compare with later doses of the same drug.
    pub(super) amount: Option<(f64, &'static str)>,
    pub(super) frequency: Option<String>,
    /// Dose, tablets, frequency, course and pause, each with its joint, in the order said.
    pub(super) pieces: Vec<(usize, String)>,
    pub(super) from_question: bool,
}

/// Doses of each drug said so far, and where: a later, different dose is a change.
pub(super) type DoseHistory = Vec<(&'static str, f64, &'static str, usize)>;

pub(super) fn medications(u: &Utterance, question: Option<&Utterance>, history: &mut DoseHistory, push: &mut Push) {
    for mut mention in mentions_of_drugs(u, question) {
        let mut cited: Vec<usize> =
            if mention.from_question { question.map(|q| q.index).into_iter().collect() } else { Vec::new() };
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

pub(super) fn mentions_of_drugs(u: &Utterance, question: Option<&Utterance>) -> Vec<Mention> {
    if u.has_word(|w| w.starts_with("allergi")) {
        return Vec::new();
    }
    let tokens = &u.tokens;
    let amount_at = |k: usize| -> Option<(f64, &'static str)> {
        Some((tokens[k].number()?, dose_unit(tokens.get(k + 1)?.word()?)?))
    };
    let mut out: Vec<Mention> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let Some(drug) = token.word().and_then(drug_named) else {
            continue;
        };
        if out.iter().any(|m| m.drug.name == drug.name) {
            continue;
        }
        let next_drug =
            (i + 1..tokens.len()).find(|&k| tokens[k].word().and_then(drug_named).is_some()).unwrap_or(tokens.len());
        let after: Vec<(usize, String)> =
            (i + 1..next_drug).filter_map(|k| dose_at(tokens, k).map(|d| (k, d))).collect();
        let doses = match after.first() {
            Some((first, _)) if *first <= i + 20 => after,
            _ => (i.saturating_sub(4)..i)
                .rev()
                .find_map(|k| dose_at(tokens, k).map(|d| vec![(k, d)]))
                .unwrap_or_default(),
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
            out.push(Mention {
                drug,
                form,
                change,
                dose,
                amount,
                frequency: said_frequency,
                pieces,
                from_question: false,
            });
        }
    }
    // "Hvor meget levothyroxin tager du?" – "Hundrede mikrogram": the drug is in the question.
    if let Some(q) =
        question.filter(|_| out.is_empty() && !tokens.iter().any(|t| t.word().and_then(drug_named).is_some()))
    {
        let mut named: Vec<&'static Drug> = q.tokens.iter().filter_map(|t| t.word().and_then(drug_named)).collect();
        named.dedup_by_key(|d| d.name);
        let doses: Vec<(usize, String)> =
            (0..tokens.len()).filter_map(|k| dose_at(tokens, k).map(|d| (k, d))).collect();
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

pub(super) fn push_medication(u: &Utterance, mention: Mention, cited: &[usize], push: &mut Push) {
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
