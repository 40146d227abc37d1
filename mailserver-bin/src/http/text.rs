//! Text in and out of HTTP: escaping for HTML and XML, and values from a query string.

/// `text` safe inside HTML or XML, in content and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The value of `key` in a query string or form body (`a=1&b=x%40y`), percent- and
/// `+`-decoded; `None` when absent or not UTF-8.
pub fn form_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k)? == key).then(|| decode(v)).flatten()
    })
}

fn decode(s: &str) -> Option<String> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_decodes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let q = "x=1&emailaddress=J%C3%B6rg%40example.org&y=a+b";
        assert_eq!(
            form_value(q, "emailaddress").as_deref(),
            Some("Jörg@example.org")
        );
        assert_eq!(form_value(q, "y").as_deref(), Some("a b"));
        assert_eq!(form_value(q, "z"), None);
        assert_eq!(form_value("k=%ff", "k"), None);
    }

    proptest::proptest! {
        // A value percent-encoded as a browser would comes back as it was; any query reads
        // without a panic.
        #[test]
        fn form_values_round_trip(value in "\\PC{0,30}", noise in "[ -$&-~]{0,40}") {
            let encoded: String =
                percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            let query = format!("{}&k={encoded}", noise.replace('k', "j"));
            proptest::prop_assert_eq!(form_value(&query, "k"), Some(value));
            let _ = form_value(&noise, "k");
        }
    }
}
