//! Escaping text for HTML, once for every page Autonotar renders: the review app, the DPO's
//! audit report and the research harness's report. Safe in element content and in attributes
//! quoted with `"` or `'`.

/// `text` with `& < > " '` written as character references.
pub fn escape(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    #[test]
    fn every_character_that_can_end_text_or_an_attribute_is_escaped() {
        assert_eq!(
            super::escape(r#"<a href="x" title='y'>Ø & co</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Ø &amp; co&lt;/a&gt;"
        );
        assert_eq!(super::escape("Ondt i halsen."), "Ondt i halsen.");
    }
}
