//! The HTML of every page, in Danish. Everything that came from a person or the vault goes
//! through [`escape::html`]; the script adds behaviour but the pages are whole without it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use audit::Id;
use axum::response::Html;
use escape::html;
use note::{Draft, Section};
use transcript::{Role, Segment, Transcript};

use crate::live::{DraftChanges, LiveText};
use crate::store::{Listed, ReviewStatement, StatementState, Status};

/// Below this a statement is marked for a closer look.
const LOW_CONFIDENCE: f32 = 0.6;
/// Below this a transcript word is marked as uncertainly heard.
const UNCERTAIN_WORD: f32 = 0.5;

fn layout(title: &str, csrf: Option<&str>, body: &str) -> Html<String> {
    let csrf = csrf.map(|t| format!("<meta name=\"csrf\" content=\"{}\">", html(t))).unwrap_or_default();
    Html(format!(
        "<!doctype html>\n<html lang=\"da\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{csrf}\
         <title>{} · Autonotar</title><link rel=\"stylesheet\" href=\"/review/assets/review.css\">\
         <script src=\"/review/assets/review.js\" defer></script><script src=\"/review/assets/live.js\" defer></script></head>\
         <body><header class=\"top\"><a class=\"brand\" href=\"/review/\">Autonotar</a></header>\
         <main id=\"main\">{body}</main></body></html>",
        html(title)
    ))
}

/// A page that only says something (refusals, errors).
pub fn message(title: &str, text: &str) -> Html<String> {
    layout(title, None, &format!("<section class=\"message\"><h1>{}</h1><p>{}</p></section>", html(title), html(text)))
}

/// Shown once after a link was accepted; moves on to `target` by itself.
pub fn entering(target: &str) -> Html<String> {
    let target = html(target);
    Html(format!(
        "<!doctype html>\n<html lang=\"da\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={target}\"><title>Logger ind · Autonotar</title>\
         <link rel=\"stylesheet\" href=\"/review/assets/review.css\"></head>\
         <body><main id=\"main\"><p>Logger ind … <a href=\"{target}\">Fortsæt</a></p></main></body></html>"
    ))
}

/// `HH:MM` of `time` in the server's local time zone (UTC when none is configured).
fn clock(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let local = secs as i64 + crate::localtime::offset_seconds(secs as i64);
    let minutes = local.rem_euclid(86_400) / 60;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `m:ss` into the consultation.
fn at(seconds: f64) -> String {
    let whole = seconds.max(0.0) as u64;
    format!("{}:{:02}", whole / 60, whole % 60)
}

/// The list page; its rows are replaced live from the list stream (see [`list_rows`]). With
/// `capture`, it links to the capture page.
pub fn list(doctor: &Id, listed: &[Listed], capture: bool) -> Html<String> {
    let capture = if capture {
        "<p><a class=\"button\" id=\"to-capture\" href=\"/review/optag\">Optag en videokonsultation</a></p>"
    } else {
        ""
    };
    let body = format!(
        "<h1>Dagens konsultationer</h1><p class=\"who\">Logget ind som {}</p>{capture}\
         <table class=\"list\" data-stream=\"{}\"><thead><tr><th>Kl.</th><th>Konsultation</th><th>Status</th></tr></thead>\
         <tbody>{}</tbody></table>",
        html(doctor.as_str()),
        crate::LIST_STREAM_PATH,
        list_rows(listed)
    );
    layout("Dagens konsultationer", None, &body)
}

/// The list's table rows, newest first.
pub fn list_rows(listed: &[Listed]) -> String {
    if listed.is_empty() {
        return "<tr class=\"empty\"><td colspan=\"3\">Ingen konsultationer det seneste døgn.</td></tr>".into();
    }
    let mut rows = String::new();
    for item in listed {
        let id = html(&item.id);
        let link = match item.status {
            Status::Approved => format!("<a href=\"/review/k/{id}/notat\">{id}</a>"),
            Status::Discarded => id.clone(),
            // The draft; while the call goes on, its live page.
            _ => format!("<a href=\"/review/k/{id}\">{id}</a>"),
        };
        let _ = write!(
            rows,
            "<tr id=\"row-{id}\"><td>{}</td><td>{link}</td><td>{}</td></tr>",
            clock(item.created),
            badge(item.status)
        );
    }
    rows
}

/// The capture page: which consultation, the patient's consent, then the two inputs, their
/// levels, the connection and the live transcript (filled in by `capture.js` and `live.js`).
pub fn capture(doctor: &Id, csrf: &str) -> Html<String> {
    let body = format!(
        "<div class=\"capture\" data-doctor=\"{}\" data-ws=\"/review/optag/ws\"><h1>Optag en videokonsultation</h1>\
         <noscript><p class=\"warning\">Optagelse kræver JavaScript.</p></noscript>\
         <form id=\"capture-form\">\
         <p><label>Konsultation <input id=\"capture-id\" name=\"consultation\" required maxlength=\"48\" \
         pattern=\"[A-Za-z0-9._:\\-]*[A-Za-z][A-Za-z0-9._:\\-]*\" autocomplete=\"off\"></label> \
         <span class=\"hint\">Videokonsultationens id, fx fra det virtuelle venteværelse.</span></p>\
         <p><label><input type=\"checkbox\" id=\"capture-consent\" required> Patienten har givet samtykke til, at samtalen \
         optages og skrives ud som udkast til journalnotat.</label></p>\
         <p class=\"hint\">Mikrofonen optages som lægens spor. Vælg derefter fanen eller vinduet med videoopkaldet, og sæt \
         flueben ved <em>Del lyd</em>: den lyd er patientens spor. Brug gerne headset.</p>\
         <p><button type=\"submit\" id=\"capture-start\">Start optagelse</button></p></form>\
         <section id=\"capture-running\" hidden><p>Forbindelse: <span id=\"capture-state\">forbinder …</span></p>\
         <p><label>Læge <meter id=\"level-doctor\" min=\"0\" max=\"1\" value=\"0\"></meter></label> \
         <label>Patient <meter id=\"level-patient\" min=\"0\" max=\"1\" value=\"0\"></meter></label></p>\
         <p><button type=\"button\" id=\"capture-stop\">Stop optagelsen</button></p>\
         <div class=\"live\" id=\"capture-live\"><p id=\"live-status\"></p>\
         <section class=\"transcript\" aria-label=\"Samtalen\"><h2>Samtalen</h2>\
         <ol id=\"live-segments\" aria-live=\"polite\"></ol></section></div></section>\
         <p id=\"msg\" class=\"warning\" role=\"alert\"></p><p><a href=\"/review/\">Til oversigten</a></p></div>\
         <script src=\"/review/assets/capture.js\" defer></script>",
        html(doctor.as_str())
    );
    layout("Optag en videokonsultation", Some(csrf), &body)
}

/// During the call: the transcript as it is recognised, filled in by the live stream.
pub fn live(consultation: &str, status: Status) -> Html<String> {
    let id = html(consultation);
    let body = format!(
        "<div class=\"live\" data-stream=\"/review/k/{id}/direkte\"><h1>Samtalen direkte · {id}</h1>\
         <p id=\"live-status\">{}</p>\
         <p class=\"hint\">Teksten kommer, mens der tales. <span class=\"tentative-sample\">Grå, kursiv tekst</span> er foreløbig \
         og kan endnu ændre sig; sort tekst er endelig. Kladden skrives undervejs ud fra den endelige tekst; \
         når samtalen er slut, afløses den af kladden til gennemsyn.</p>\
         <div class=\"live-columns\"><section class=\"transcript\" aria-label=\"Samtalen\"><h2>Samtalen</h2>\
         <ol id=\"live-segments\" aria-live=\"polite\"></ol></section>\
         <section class=\"note interim\" aria-label=\"Kladde (foreløbig)\"><h2>Kladde (foreløbig)</h2>\
         <div id=\"live-draft\"><p class=\"hint\">Kladden begynder, når der er sagt noget.</p></div></section></div>\
         <p id=\"msg\" role=\"alert\"></p><p><a href=\"/review/\">Til oversigten</a></p></div>",
        badge(status)
    );
    layout(&format!("Direkte {consultation}"), None, &body)
}

/// The note drafted so far, section by section, each statement linked to the committed text it
/// rests on (`commit_of_segment` turns its evidence into the live page's commit numbers). View
/// only: nothing here can be edited or approved.
pub fn live_draft(draft: &Draft, commit_of_segment: &[u32]) -> String {
    let mut out = format!("<p class=\"header-line\">{}</p>", html(&draft.header));
    for section in &draft.sections {
        let _ = write!(out, "<section class=\"sec\"><h3>{}</h3><ul class=\"stmts\">", html(&section.heading));
        for statement in &section.statements {
            let link = statement
                .evidence
                .segments
                .first()
                .and_then(|&segment| commit_of_segment.get(segment as usize))
                .map(|number| format!(" <a class=\"meta\" href=\"#ls-{number}\">{}</a>", at(statement.evidence.start)))
                .unwrap_or_default();
            let _ = write!(out, "<li class=\"stmt\">{}{link}</li>", html(&statement.text));
        }
        out.push_str("</ul></section>");
    }
    if !draft.attention.is_empty() {
        let _ = write!(out, "<p class=\"hint\">{} til lægens opmærksomhed.</p>", draft.attention.len());
    }
    out
}

/// One committed stretch of the live transcript; `number` keeps a reconnect from showing it
/// twice, `data-start` puts it in time order (tracks commit independently).
pub fn live_committed(number: u32, text: &LiveText) -> String {
    let attributes = format!("id=\"ls-{number}\" data-track=\"{}\" data-start=\"{:.2}\"", text.track, text.start);
    segment_item(&format!("seg {}", text.speaker), &attributes, text.speaker, text.start, "", &html(text.text.trim()))
}

/// A track's tentative text, replacing its earlier tentative text.
pub fn live_tentative(text: &LiveText) -> String {
    let attributes = format!("data-track=\"{}\"", text.track);
    segment_item(
        &format!("seg {} tentative", text.speaker),
        &attributes,
        text.speaker,
        text.start,
        " · foreløbig",
        &html(text.text.trim()),
    )
}

/// A transcript line: who spoke and when, then the words (already HTML).
fn segment_item(class: &str, attributes: &str, speaker: Role, start: f64, note: &str, words: &str) -> String {
    format!(
        "<li class=\"{class}\" {attributes}><span class=\"meta\">{} · {}{note}</span> {words}</li>",
        speaker.danish(),
        at(start)
    )
}

/// A status as the coloured badge the list and the live page show.
pub fn badge(status: Status) -> String {
    format!("<span class=\"status {}\">{}</span>", status.class(), status.danish())
}

pub fn not_ready(consultation: &str, status: Status) -> Html<String> {
    let text = match status {
        Status::Discarded => "Konsultationen er kasseret. Alt om den slettes ved næste oprydning.",
        _ => "Kladden er ikke klar endnu. Siden kan genindlæses om lidt.",
    };
    layout(
        consultation,
        None,
        &format!(
            "<h1>{}</h1><p>{}</p><p>{}</p><p><a href=\"/review/\">Til oversigten</a></p>",
            html(consultation),
            badge(status),
            text
        ),
    )
}

/// Everything the draft page shows.
pub struct DraftPage<'a> {
    pub consultation: &'a str,
    pub csrf: &'a str,
    pub draft: &'a Draft,
    pub transcript: &'a Transcript,
    pub statements: &'a [ReviewStatement],
    pub approved: bool,
    /// How the draft differs from the interim one the live page last showed, when it came from there.
    pub changes: Option<DraftChanges>,
}

pub fn draft(page: &DraftPage) -> Html<String> {
    let id = html(page.consultation);
    let segments: HashMap<u32, &Segment> = page.transcript.segments.iter().map(|s| (s.id, s)).collect();
    let checked = page.statements.iter().filter(|s| s.state != StatementState::Unchecked).count();
    let mut body = String::with_capacity(64 * 1024);
    let _ = write!(
        body,
        "<div class=\"draft\" data-base=\"/review/k/{id}\"><section class=\"note\" aria-label=\"Kladde\">\
         <h1>Kladde · {id}</h1><p class=\"header-line\">{}</p>",
        html(&page.draft.header)
    );
    if let Some(c) = page.changes {
        let _ = write!(
            body,
            "<p class=\"changes\" id=\"changes\">Ved samtalens slut: {} udsagn tilføjet, {} fjernet og {} ændret \
             i forhold til den foreløbige kladde.</p>",
            c.added, c.dropped, c.changed
        );
    }
    if page.approved {
        let _ = write!(
            body,
            "<p class=\"banner\">Notatet er godkendt. <a href=\"/review/k/{id}/notat\">Se det godkendte notat</a></p>"
        );
    } else {
        let _ = write!(
            body,
            "<p class=\"progress\"><span id=\"checked\">{checked}</span> af <span id=\"total\">{}</span> udsagn gennemgået</p>",
            page.statements.len()
        );
    }
    if !page.draft.attention.is_empty() {
        body.push_str(
            "<section class=\"attention\" aria-labelledby=\"att-h\"><h2 id=\"att-h\">Til lægens opmærksomhed</h2><ul>",
        );
        for item in &page.draft.attention {
            let evidence = item.evidence.as_ref().map(|e| e.segments.as_slice()).unwrap_or_default();
            let _ = write!(
                body,
                "<li class=\"att\" tabindex=\"0\" data-evidence=\"{}\"><p class=\"text\">{}</p><p class=\"reason\">{}</p>{}</li>",
                evidence_ids(evidence),
                html(&item.text),
                html(&item.reason),
                quotes(evidence, &segments)
            );
        }
        body.push_str("</ul></section>");
    }
    for section in Section::ALL {
        let statements: Vec<&ReviewStatement> = page.statements.iter().filter(|s| s.section == section).collect();
        if statements.is_empty() {
            continue;
        }
        let _ = write!(
            body,
            "<section class=\"sec\" data-section=\"{}\"><h2>{}</h2><ol class=\"stmts\">",
            section.label(),
            section.heading()
        );
        for statement in statements {
            body.push_str(&statement_html(statement, &segments, page.approved));
        }
        body.push_str("</ol></section>");
    }
    if !page.approved {
        let csrf = html(page.csrf);
        let options: String =
            Section::ALL.iter().map(|s| format!("<option value=\"{}\">{}</option>", s.label(), s.heading())).collect();
        let _ = write!(
            body,
            "<form class=\"add\" method=\"post\" action=\"/review/k/{id}/u\"><h2>Tilføj udsagn</h2>\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>Sektion <select name=\"section\">{options}</select></label>\
             <label>Udsagn <input name=\"text\" maxlength=\"2000\" required></label>\
             <button type=\"submit\">Tilføj</button></form>\
             <form class=\"approve\" method=\"post\" action=\"/review/k/{id}/godkend\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\" class=\"primary\" id=\"approve\">Godkend notat</button>\
             <span class=\"hint\">Udsagn, der ikke er gennemgået, godkendes som de står.</span></form>\
             <p class=\"discard\"><a href=\"/review/k/{id}/kasser\">Kassér konsultationen …</a></p>"
        );
    }
    body.push_str(
        "<p class=\"keys\">Tastatur: <kbd>j</kbd>/<kbd>k</kbd> næste/forrige udsagn · <kbd>a</kbd> godkend · \
         <kbd>e</kbd> ret · <kbd>d</kbd> slet · <kbd>Ctrl</kbd>+<kbd>Enter</kbd> godkend notat · \
         <kbd>Esc</kbd> fortryd rettelse</p><p id=\"msg\" role=\"alert\"></p></section>",
    );
    body.push_str("<section class=\"transcript\" aria-label=\"Samtalen\"><h2>Samtalen</h2><ul id=\"evidence\" aria-live=\"polite\" aria-label=\"Belæg for det valgte udsagn\"></ul><ol>");
    for segment in &page.transcript.segments {
        body.push_str(&segment_item(
            &format!("seg {}", segment.speaker),
            &format!("id=\"seg-{}\"", segment.id),
            segment.speaker,
            segment.start,
            "",
            &segment_text(segment),
        ));
    }
    body.push_str("</ol></section></div>");
    layout(&format!("Kladde {}", page.consultation), Some(page.csrf), &body)
}

/// One statement's list item; also sent alone after each change.
pub fn statement_fragment(
    statement: &ReviewStatement,
    transcript: Option<&Transcript>,
    approved: bool,
) -> Html<String> {
    let segments: HashMap<u32, &Segment> =
        transcript.map(|t| t.segments.iter().map(|s| (s.id, s)).collect()).unwrap_or_default();
    Html(statement_html(statement, &segments, approved))
}

fn statement_html(statement: &ReviewStatement, segments: &HashMap<u32, &Segment>, approved: bool) -> String {
    let state = match statement.state {
        StatementState::Unchecked => "unchecked",
        StatementState::Accepted => "accepted",
        StatementState::Deleted => "deleted",
    };
    let low = statement.confidence.is_some_and(|c| c < LOW_CONFIDENCE);
    let mut badges = String::new();
    if statement.drafted.is_none() {
        badges.push_str("<span class=\"badge\">tilføjet</span>");
    } else if statement.is_edited() {
        badges.push_str("<span class=\"badge\">rettet</span>");
    }
    if low {
        badges.push_str("<span class=\"badge low\">lav sikkerhed</span>");
    }
    match statement.state {
        StatementState::Accepted => badges.push_str("<span class=\"badge ok\">godkendt</span>"),
        StatementState::Deleted => badges.push_str("<span class=\"badge\">slettet</span>"),
        StatementState::Unchecked => {}
    }
    let actions = if approved {
        String::new()
    } else if statement.state == StatementState::Deleted {
        "<span class=\"actions\"><button type=\"button\" data-act=\"restore\">Fortryd sletning</button></span>"
            .to_string()
    } else {
        "<span class=\"actions\"><button type=\"button\" data-act=\"accept\" title=\"Godkend (a)\">Godkend</button>\
         <button type=\"button\" data-act=\"edit\" title=\"Ret (e)\">Ret</button>\
         <button type=\"button\" data-act=\"delete\" title=\"Slet (d)\">Slet</button></span>"
            .to_string()
    };
    let unsure = if statement.uncertain_words.is_empty() {
        String::new()
    } else {
        format!("<p class=\"unsure\">Usikkert hørt: {}</p>", html(&statement.uncertain_words.join(", ")))
    };
    let drafted = match &statement.drafted {
        Some(drafted) if statement.is_edited() => format!("<p class=\"was\">Kladdens ordlyd: {}</p>", html(drafted)),
        _ => String::new(),
    };
    format!(
        "<li class=\"stmt {state}{}\" id=\"u{id}\" tabindex=\"0\" data-id=\"{id}\" data-evidence=\"{}\">\
         <div class=\"row\"><span class=\"text\">{}</span>{badges}{actions}</div>{unsure}{drafted}{}</li>",
        if low { " low" } else { "" },
        evidence_ids(&statement.evidence),
        html(&statement.text),
        quotes(&statement.evidence, segments),
        id = statement.id,
    )
}

fn evidence_ids(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

/// The evidence as said; the script shows it above the transcript for the active statement.
fn quotes(ids: &[u32], segments: &HashMap<u32, &Segment>) -> String {
    let lines: String = ids
        .iter()
        .filter_map(|id| segments.get(id))
        .map(|s| {
            format!("<li><span class=\"meta\">{} · {}</span> {}</li>", s.speaker.danish(), at(s.start), segment_text(s))
        })
        .collect();
    if lines.is_empty() { String::new() } else { format!("<ul class=\"quote\">{lines}</ul>") }
}

/// A segment's words, those the recogniser was unsure of marked.
fn segment_text(segment: &Segment) -> String {
    if segment.words.is_empty() {
        return html(segment.text.trim());
    }
    let mut out = String::new();
    for word in &segment.words {
        if word.probability < UNCERTAIN_WORD {
            let spoken = word.text.trim_start();
            out.push_str(&word.text[..word.text.len() - spoken.len()]);
            let _ = write!(out, "<mark class=\"unsure\" title=\"usikkert hørt\">{}</mark>", html(spoken));
        } else {
            out.push_str(&html(&word.text));
        }
    }
    out
}

pub fn note(consultation: &str, csrf: &str, text: &str, exported: bool) -> Html<String> {
    let id = html(consultation);
    let state = if exported {
        "Notatet er markeret som overført til journalen."
    } else {
        "Notatet er godkendt og klar til journalen."
    };
    let body = format!(
        "<div class=\"final\" data-base=\"/review/k/{id}\"><h1>Godkendt notat · {id}</h1><p id=\"state\" role=\"status\">{state}</p>\
         <pre id=\"note\" tabindex=\"0\">{}</pre>\
         <div class=\"buttons\"><button type=\"button\" class=\"primary\" id=\"copy\">Kopiér til journal</button>\
         <form method=\"post\" action=\"/review/k/{id}/notat.txt\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\">Hent som tekstfil</button></form></div>\
         <p><a href=\"/review/k/{id}\">Se kladden med samtalen</a> · <a href=\"/review/\">Til oversigten</a></p></div>",
        html(text),
        html(csrf)
    );
    layout(&format!("Notat {consultation}"), Some(csrf), &body)
}

pub fn confirm_discard(consultation: &str, csrf: &str) -> Html<String> {
    let id = html(consultation);
    let body = format!(
        "<section class=\"message\"><h1>Kassér konsultation {id}?</h1>\
         <p>Kladde, samtale og rettelser slettes ved næste oprydning og kan ikke hentes tilbage.</p>\
         <form method=\"post\" action=\"/review/k/{id}/kasser\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\" class=\"danger\" id=\"confirm-discard\">Ja, kassér</button> \
         <a href=\"/review/k/{id}\">Nej, tilbage til kladden</a></form></section>",
        html(csrf)
    );
    layout("Kassér konsultation", None, &body)
}
