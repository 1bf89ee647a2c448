//! Bracketed character classes (`[a-z]`, `[^\d]`, `[[:alpha:]]`) in Go's syntax, written for
//! the `regex` crate with Go's ASCII meanings.

use super::{DIGIT, SPACE, Translator, WORD};

impl Translator {
    /// `\pL`, `\p{Greek}`, `\p{^Greek}`, `\PL` at the cursor, as Rust writes it.
    pub(super) fn unicode_class(&mut self) -> Result<String, String> {
        let mut negated = self.at(1) == Some('P');
        let Some(first) = self.at(2) else {
            return Err("invalid character class range: `\\p`".into());
        };
        let name: String = if first == '{' {
            let start = self.pos + 3;
            let end = (start..self.chars.len())
                .find(|&i| self.chars[i] == '}')
                .ok_or("invalid character class range: missing }")?;
            let mut name: String = self.chars[start..end].iter().collect();
            if let Some(n) = name.strip_prefix('^') {
                negated = !negated;
                name = n.to_string();
            }
            self.pos = end + 1;
            name
        } else {
            self.pos += 3;
            first.to_string()
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid character class range: `\\p{{{name}}}`"));
        }
        Ok(format!(r"\{}{{{name}}}", if negated { 'P' } else { 'p' }))
    }

    /// A bracketed class, with Go's reading of `]` first, `[:name:]`, `-` and escapes, written
    /// for Rust with every literal escaped (so `&&`, `--`, `~~` and `[` are just characters).
    pub(super) fn class(&mut self) -> Result<(), String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::from("[");
        if self.peek() == Some('^') {
            self.pos += 1;
            out.push('^');
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                let shown: String = self.chars[start..].iter().collect();
                return Err(format!("missing closing ]: `{shown}`"));
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if c == '[' && self.at(1) == Some(':') {
                let rest: String = self.chars[self.pos + 2..].iter().collect();
                if let Some(end) = rest.find(":]") {
                    let name = &rest[..end];
                    let bare = name.strip_prefix('^').unwrap_or(name);
                    if !POSIX.contains(&bare) {
                        return Err(format!("invalid character class range: `[:{name}:]`"));
                    }
                    out.push_str(&format!("[:{name}:]"));
                    self.pos += 2 + name.chars().count() + 2;
                    continue;
                }
            }
            if c == '\\' {
                match self.at(1) {
                    Some(p @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => {
                        self.pos += 2;
                        let (set, negated) = perl_class(p);
                        if negated {
                            out.push_str(&format!("[^{set}]"));
                        } else {
                            out.push_str(set);
                        }
                        continue;
                    }
                    Some('p' | 'P') => {
                        let class = self.unicode_class()?;
                        out.push_str(&class);
                        continue;
                    }
                    _ => {}
                }
            }
            let lo = self.class_char()?;
            if self.peek() == Some('-') && self.at(1).is_some_and(|n| n != ']') {
                self.pos += 1;
                let hi = self.class_char()?;
                if hi < lo {
                    return Err(format!("invalid character class range: `{lo}-{hi}`"));
                }
                out.push_str(&format!("{}-{}", class_literal(lo), class_literal(hi)));
            } else {
                out.push_str(&class_literal(lo));
            }
        }
        out.push(']');
        self.out.push_str(&out);
        Ok(())
    }

    /// One character of a class: itself, or an escape.
    fn class_char(&mut self) -> Result<char, String> {
        let c = self.peek().ok_or("missing closing ]")?;
        if c == '\\' {
            return self.escaped_char();
        }
        self.pos += 1;
        Ok(c)
    }
}

/// The POSIX classes Go knows (ASCII, as in Rust).
const POSIX: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// The ASCII set of a Perl class letter, and whether it is negated.
pub(super) fn perl_class(c: char) -> (&'static str, bool) {
    match c {
        'd' => (DIGIT, false),
        'D' => (DIGIT, true),
        's' => (SPACE, false),
        'S' => (SPACE, true),
        'w' => (WORD, false),
        _ => (WORD, true),
    }
}

/// A character inside a Rust class, escaped unless it is a letter or digit.
fn class_literal(c: char) -> String {
    if c.is_alphanumeric() {
        c.to_string()
    } else {
        format!("\\x{{{:X}}}", c as u32)
    }
}
