//! Plan actions: tests, referrals, sick leave, prescriptions, follow-up and safety-netting.

use super::*;

/// Words for meeting or talking again.
pub(super) const FOLLOW_UP: &[&str] = &[
    "kontrol",
    "kontrollen",
    "ses",
    "ser",
    "tid",
    "snakkes",
    "snakker",
    "tale",
    "ringer",
    "video",
    "videokonsultation",
];

pub(super) const BLOOD_TESTS: &[&str] = &[
    "nyretal",
    "levertal",
    "urinsyre",
    "kolesterol",
    "stofskifte",
    "crp",
    "blodprocent",
    "langtidsblodsukker",
    "infektionstal",
];

pub(super) fn plan_actions(u: &Utterance, push: &mut Push) {
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
    for (stem, name) in [
        ("urinprøve", "Urinprøve"),
        ("afføringsprøve", "Afføringsprøve"),
        ("røntgen", "Røntgen"),
        ("scanning", "Scanning"),
        ("ekg", "EKG"),
    ] {
        if has(stem) {
            let helicobacter =
                (stem == "afføringsprøve" && has("helicobacter")).then(|| " for helicobacter".to_string());
            action(stem, format!("{name}{}.", helicobacter.clone().unwrap_or_default()), helicobacter);
        }
    }
    if let Some(diary) = words.iter().find(|w| w.ends_with("dagbog")) {
        action("dagbog", format!("{}.", capitalise(diary)), None);
    }
    if has("henvis")
        && let Some(p) = words.iter().position(|w| *w == "til")
        && let Some(to) =
            words[p + 1..].iter().find(|w| !matches!(**w, "en" | "et" | "din" | "dit" | "den" | "det" | "jeres"))
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
    if has("tolk") && follow_up.is_none() {
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
            let how = if has("video") { "Videokontrol" } else { "Kontrol" };
            let interpreter = if has("tolk") { " med tolk" } else { "" };
            action("kontrol", format!("{how} om {when}{interpreter}."), Some(when.clone()));
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
