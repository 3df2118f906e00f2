//! Writing text into the formats Autonotar renders, once each: HTML for the review app, the
//! DPO's audit report and the research report; CSV cells for the DPO's sheet and the research
//! harness's `per_consultation.csv`.

/// `text` with `& < > " '` written as character references: safe in element content and in
/// attributes quoted with `"` or `'`.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` as one CSV cell (RFC 4180): quoted, with quotes doubled, when it holds a comma, a
/// quote or a line break; as it is otherwise.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_character_that_can_end_text_or_an_attribute_is_escaped() {
        assert_eq!(
            super::html(r#"<a href="x" title='y'>Ø & co</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Ø &amp; co&lt;/a&gt;"
        );
        assert_eq!(super::html("Ondt i halsen."), "Ondt i halsen.");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(super::csv_field("plain"), "plain");
        assert_eq!(super::csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(super::csv_field("two\nlines"), "\"two\nlines\"");
    }
}
