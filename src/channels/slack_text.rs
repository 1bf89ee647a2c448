//! Payload text made safe for Slack: escaped for mrkdwn (so `<!channel>` or `<https://x|y>` in a
//! label shows as text and pings or links no one), cut to Slack's limits on a character
//! boundary, and links only to http(s) URLs.

use serde_json::Value;

/// Slack's limits on text objects, in characters.
pub const HEADER_MAX: usize = 150;
pub const SECTION_MAX: usize = 3000;
pub const FIELD_MAX: usize = 2000;
pub const CONTEXT_MAX: usize = 3000;
pub const FIELDS_MAX: usize = 10;
pub const BLOCKS_MAX: usize = 50;
/// Slack truncates a message's top-level `text` past 40,000; keep well inside it.
pub const TEXT_MAX: usize = 3000;

/// Escapes the three characters Slack's mrkdwn gives meaning to.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// At most `max` characters, ending in `…` when cut; never splits a character or an escape
/// (`&amp;`) that [`escape`] wrote.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(1);
    let mut out: String = text.chars().take(keep).collect();
    // An entity cut in half would show as garbage: drop the partial one.
    if let Some(amp) = out.rfind('&')
        && ["&amp;", "&lt;", "&gt;"]
            .iter()
            .any(|e| e.starts_with(&out[amp..]) && e.len() > out.len() - amp)
    {
        out.truncate(amp);
    }
    out.push('…');
    out
}

/// Escaped and cut: the one way payload text enters a Slack mrkdwn object.
pub fn mrkdwn(text: &str, max: usize) -> String {
    cut(&escape(text), max)
}

/// Plain text (headers, buttons): Slack shows it as it is; on one line, cut.
pub fn plain(text: &str, max: usize) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut(&line, max)
}

/// A link `<url|label>` if `url` is an absolute http(s) URL, else `None` (a `javascript:` or
/// `slack://` URL, or one that would break out of the link syntax, plants nothing).
pub fn link(url: &str, label: &str) -> Option<String> {
    let url = url.trim();
    if !is_web_url(url) {
        return None;
    }
    // `|` ends the URL part of a link; escaping keeps `<`, `>` and `&` from ending the link.
    let url = escape(url).replace('|', "%7C");
    Some(format!("<{url}|{}>", escape(label)))
}

/// An absolute http(s) URL with no white space or control characters: the only kind alertrouter
/// turns into a link in any channel.
pub fn is_web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() > "http://".len()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Escapes, in place, every string the templates may show that came from a payload: the
/// incident's title, labels and annotations, the bundled incidents' titles and the actor.
pub fn escape_context(ctx: &mut Value) {
    fn all(v: &mut Value) {
        match v {
            Value::String(s) => *s = escape(s),
            Value::Array(items) => items.iter_mut().for_each(all),
            Value::Object(map) => map.values_mut().for_each(all),
            _ => {}
        }
    }
    for path in [
        "/incident/title",
        "/incident/labels",
        "/incident/annotations",
        "/incident/generator_url",
        "/more",
        "/actor",
        "/detail",
    ] {
        if let Some(v) = ctx.pointer_mut(path) {
            all(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_and_links_in_labels_become_text() {
        assert_eq!(
            escape("<!channel> & <https://evil|click>"),
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
        );
    }

    #[test]
    fn cutting_keeps_characters_and_escapes_whole() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
        assert_eq!(cut("李雷韩梅梅", 3), "李雷…");
        assert_eq!(cut("😀😀😀😀", 2), "😀…");
        // "a&amp;b" cut at 5 keeps no half entity.
        assert_eq!(cut("a&amp;bcdef", 5), "a…");
        assert_eq!(cut("a&amp;bcdef", 8), "a&amp;b…");
        assert_eq!(
            cut("a & <!here> and more", 8),
            "a & <!h…",
            "a bare & is text"
        );
        assert_eq!(plain("a\r\nb", 10), "a  b");
        assert_eq!(mrkdwn(&"x".repeat(2500), 2000).chars().count(), 2000);
    }

    #[test]
    fn only_http_links_are_made() {
        assert_eq!(
            link("https://runbook/x?a=1&b=2", "Runbook").unwrap(),
            "<https://runbook/x?a=1&amp;b=2|Runbook>"
        );
        assert_eq!(
            link("https://x/a|b>c", "R").unwrap(),
            "<https://x/a%7Cb&gt;c|R>"
        );
        assert_eq!(link("javascript:alert(1)", "R"), None);
        assert_eq!(link("slack://open", "R"), None);
        assert_eq!(link("https://x/a b", "R"), None);
        assert_eq!(link("", "R"), None);
    }

    #[test]
    fn the_context_is_escaped_where_payload_text_lands() {
        let mut ctx = serde_json::json!({
            "incident": {"title": "<!here>", "labels": {"a": "<b>"}, "annotations": {"d": "&"}, "number": 1},
            "who": "<@U1>",
            "more": [{"title": "<x>"}],
        });
        escape_context(&mut ctx);
        assert_eq!(ctx["incident"]["title"], "&lt;!here&gt;");
        assert_eq!(ctx["incident"]["labels"]["a"], "&lt;b&gt;");
        assert_eq!(ctx["incident"]["annotations"]["d"], "&amp;");
        assert_eq!(ctx["more"][0]["title"], "&lt;x&gt;");
        assert_eq!(
            ctx["who"], "<@U1>",
            "the mention alertrouter writes stays a mention"
        );
    }
}
