//! Alertmanager label matchers: `name="value"`, `name!="value"`, `name=~"regex"`, `name!~"regex"`.
//!
//! Semantics follow Alertmanager's `pkg/labels` exactly: the same tolerant parser (optional braces,
//! commas outside quotes, OpenMetrics escapes, ASCII white space), a missing label matches as the
//! empty string, and a regex is Go's RE2 dialect (see `go_regex`) anchored at both ends.

use std::fmt;

use regex::Regex;

use crate::alertmanager::LabelSet;

/// How a matcher compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One parsed matcher.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

impl Matcher {
    /// A matcher from its parts; fails on an invalid regex.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, String> {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                let rust = go_regex::translate(value)
                    .map_err(|e| format!("error parsing regexp {value:?}: {e}"))?;
                Some(
                    Regex::new(&format!("^(?:{rust})$"))
                        .map_err(|e| format!("error parsing regexp {value:?}: {e}"))?,
                )
            }
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Whether the label set satisfies this matcher.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        match (&self.op, &self.regex) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            _ => false,
        }
    }
}

/// Whether every matcher matches (an empty list matches everything).
pub fn all_match(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// Parses comma-separated matchers as Alertmanager's `labels.ParseMatchers` does: one leading
/// `{` and one trailing `}` are dropped if present (so `{a="b"` is accepted, ` {a="b"}` is not),
/// commas inside double quotes do not separate, a trailing comma is allowed, and `{}` is no
/// matcher at all.
pub fn parse_matchers(input: &str) -> Result<Vec<Matcher>, String> {
    let s = input.strip_prefix('{').unwrap_or(input);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut tokens = Vec::new();
    let mut token = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        match c {
            ',' if !quoted => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            '"' => {
                if escaped {
                    escaped = false;
                } else {
                    quoted = !quoted;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    // Go trims the last token with strings.TrimSpace (Unicode white space).
    if !token.trim().is_empty() {
        tokens.push(token.trim().to_string());
    }
    tokens
        .iter()
        .map(|t| parse_one(t).map_err(|e| format!("{input:?}: {e}")))
        .collect()
}

/// Go's `\s`: ASCII white space without the vertical tab.
fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0C' | '\r' | ' ')
}

/// One matcher, as `labels.ParseMatcher` reads it:
/// `^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$`, then the value unquoted.
fn parse_one(token: &str) -> Result<Matcher, String> {
    let bad = || format!("bad matcher format: {token}");
    let s = token.trim_start_matches(is_go_space);
    let name_len = s
        .char_indices()
        .find(|&(i, c)| {
            !(c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
        })
        .map_or(s.len(), |(i, _)| i);
    if name_len == 0 {
        return Err(bad());
    }
    let name = &s[..name_len];
    let rest = s[name_len..].trim_start_matches(is_go_space);
    let (op, rest) = [
        ("=~", MatchOp::Regex),
        ("=", MatchOp::Equal),
        ("!=", MatchOp::NotEqual),
        ("!~", MatchOp::NotRegex),
    ]
    .into_iter()
    .find_map(|(tok, op)| rest.strip_prefix(tok).map(|r| (op, r)))
    .ok_or_else(bad)?;
    let raw = rest
        .trim_start_matches(is_go_space)
        .trim_end_matches(is_go_space);
    Matcher::new(name, op, &unquote(raw)?)
}

/// The value with OpenMetrics escapes (`\"`, `\n`, `\\`) undone; other backslashes stay. A
/// value starting with `"` must end with one, and holds no other unescaped `"`.
fn unquote(raw: &str) -> Result<String, String> {
    let bad = || format!("matcher value contains unescaped double quote: {raw}");
    let (body, mut expect_quote) = match raw.strip_prefix('"') {
        Some(body) => (body, true),
        None => (raw, false),
    };
    let mut value = String::with_capacity(body.len());
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        let last = i + c.len_utf8() == body.len();
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        match c {
            '\\' if !last => escaped = true,
            '\\' => value.push('\\'),
            '"' if expect_quote && last => expect_quote = false,
            '"' => return Err(bad()),
            _ => value.push(c),
        }
    }
    if expect_quote {
        return Err(bad());
    }
    Ok(value)
}

mod go_regex;

#[cfg(test)]
mod tests;
