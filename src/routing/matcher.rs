//! Alertmanager label matchers: `name="value"`, `name!="value"`, `name=~"regex"`, `name!~"regex"`.
//!
//! Semantics follow Alertmanager's `pkg/labels`: a missing label matches as the empty string, and a
//! regex is anchored at both ends (`^(?:regex)$`).

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
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("invalid regex {value:?}: {e}"))?,
            ),
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

/// Parses one or more comma-separated matchers, optionally in braces:
/// `severity="critical"`, `{team=~"db|sre", env!="dev"}`, `alertname = Foo`.
pub fn parse_matchers(input: &str) -> Result<Vec<Matcher>, String> {
    let mut s = input.trim();
    if let Some(inner) = s.strip_prefix('{') {
        s = inner
            .strip_suffix('}')
            .ok_or_else(|| format!("{input:?}: missing closing '}}'"))?
            .trim();
    }
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (matcher, after) = parse_one(rest).map_err(|e| format!("{input:?}: {e}"))?;
        out.push(matcher);
        rest = after.trim_start();
        if let Some(next) = rest.strip_prefix(',') {
            rest = next.trim_start();
            if rest.is_empty() {
                break; // A trailing comma is allowed, as in Alertmanager.
            }
        } else if !rest.is_empty() {
            return Err(format!("{input:?}: expected ',' before {rest:?}"));
        }
    }
    if out.is_empty() {
        return Err(format!("{input:?}: no matcher"));
    }
    Ok(out)
}

fn parse_one(s: &str) -> Result<(Matcher, &str), String> {
    let name_len = s
        .char_indices()
        .find(|&(i, c)| {
            !(c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
        })
        .map_or(s.len(), |(i, _)| i);
    if name_len == 0 {
        return Err(format!("expected a label name at {s:?}"));
    }
    let name = &s[..name_len];
    let rest = s[name_len..].trim_start();
    let (op, rest) = [
        ("=~", MatchOp::Regex),
        ("!~", MatchOp::NotRegex),
        ("!=", MatchOp::NotEqual),
        ("=", MatchOp::Equal),
    ]
    .into_iter()
    .find_map(|(tok, op)| rest.strip_prefix(tok).map(|r| (op, r)))
    .ok_or_else(|| format!("expected =, !=, =~ or !~ after {name:?}"))?;
    let rest = rest.trim_start();
    let (value, rest) = if let Some(quoted) = rest.strip_prefix('"') {
        parse_quoted(quoted)?
    } else {
        // An unquoted value runs to the next comma or closing brace.
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        let value = rest[..end].trim_end();
        if value.contains('"') {
            return Err(format!("unbalanced quotes in {value:?}"));
        }
        (value.to_string(), &rest[end..])
    };
    Ok((Matcher::new(name, op, &value)?, rest))
}

/// Reads a double-quoted string body (after the opening quote) with `\"`, `\\` and `\n` escapes.
fn parse_quoted(s: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, '"')) => value.push('"'),
                Some((_, '\\')) => value.push('\\'),
                // Regex escapes such as `\d` pass through unchanged.
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    Err(format!("unterminated quoted value {s:?}"))
}

#[cfg(test)]
mod tests;
