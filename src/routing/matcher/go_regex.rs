//! Go's regular expression syntax (`regexp/syntax` with Perl flags, which Alertmanager compiles
//! matchers with) rewritten for the `regex` crate, so a matcher means here exactly what it means
//! in Alertmanager: `\d`, `\w`, `\s` and `\b` are ASCII-only as in Go (they are Unicode in Rust,
//! which silently misroutes `instance=~"\d+"` on `٣`); what only Go accepts (`\Qa.b\E`, `a{,3}`
//! as a literal, octal `\101`, `[[]`) is translated; what only Rust accepts (`(?<n>a)`, `a**`,
//! `a{1001}`, `(?x)`, `\e`, class set operations) is refused with Go's reason.

mod class;

use self::class::perl_class;

/// Go's ASCII classes, spelled for Rust.
const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = r"\t\n\x0C\r ";
/// Go refuses larger repeat counts.
const MAX_REPEAT: u32 = 1000;

/// The Rust spelling of the Go pattern `go`, or Go's reason for refusing it.
pub fn translate(go: &str) -> Result<String, String> {
    Translator {
        chars: go.chars().collect(),
        pos: 0,
        out: String::with_capacity(go.len() + 8),
    }
    .run()
}

struct Translator {
    chars: Vec<char>,
    pos: usize,
    out: String,
}

/// What the last thing written was, for Go's rules on repetition.
#[derive(Clone, Copy, PartialEq)]
enum Last {
    /// Nothing a repetition could apply to (start, `(`, `|`, a flag group).
    Nothing,
    /// An atom: a repetition may follow.
    Atom,
    /// A repetition: another one directly after it is refused (`a**`, `a{2}{3}`).
    Repeat,
}

impl Translator {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn rest(&self) -> String {
        self.chars[self.pos..].iter().collect()
    }

    fn run(mut self) -> Result<String, String> {
        let mut last = Last::Nothing;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                '(' => {
                    self.group()?;
                    depth += 1;
                    last = Last::Nothing;
                    if self.out.ends_with(')') {
                        // A flag group such as `(?i)`: nothing to repeat, and no depth.
                        depth -= 1;
                    }
                }
                ')' => {
                    if depth == 0 {
                        return Err("unexpected ): unbalanced parentheses".into());
                    }
                    depth -= 1;
                    self.pos += 1;
                    self.out.push(')');
                    last = Last::Atom;
                }
                '|' => {
                    self.pos += 1;
                    self.out.push('|');
                    last = Last::Nothing;
                }
                '*' | '+' | '?' => {
                    self.pos += 1;
                    self.repeat(&c.to_string(), last)?;
                    last = Last::Repeat;
                }
                '{' => match self.repeat_braces()? {
                    Some(op) => {
                        self.repeat(&op, last)?;
                        last = Last::Repeat;
                    }
                    None => {
                        // Not a repetition: Go takes the brace literally.
                        self.pos += 1;
                        self.out.push_str(r"\{");
                        last = Last::Atom;
                    }
                },
                '[' => {
                    self.class()?;
                    last = Last::Atom;
                }
                '\\' => {
                    if self.escape()? {
                        last = Last::Atom;
                    }
                }
                '.' | '^' | '$' => {
                    self.pos += 1;
                    self.out.push(c);
                    last = Last::Atom;
                }
                _ => {
                    self.pos += 1;
                    self.out.push_str(&regex::escape(&c.to_string()));
                    last = Last::Atom;
                }
            }
        }
        if depth > 0 {
            return Err("missing closing ): unbalanced parentheses".into());
        }
        Ok(self.out)
    }

    /// A repetition operator (already consumed) applied to what came before, with Go's checks.
    fn repeat(&mut self, op: &str, last: Last) -> Result<(), String> {
        let lazy = self.peek() == Some('?');
        if lazy {
            self.pos += 1;
        }
        match last {
            Last::Nothing => {
                return Err(format!("missing argument to repetition operator: `{op}`"));
            }
            Last::Repeat => return Err(format!("invalid nested repetition operator: `{op}`")),
            Last::Atom => {}
        }
        self.out.push_str(op);
        if lazy {
            self.out.push('?');
        }
        Ok(())
    }

    /// `{n}`, `{n,}` or `{n,m}` at the cursor (consumed) as Rust writes it; `None` when the
    /// brace does not start a repetition (Go then reads it as a literal).
    fn repeat_braces(&mut self) -> Result<Option<String>, String> {
        let mut i = self.pos + 1;
        let digits = |i: &mut usize, chars: &[char]| {
            let start = *i;
            while chars.get(*i).is_some_and(char::is_ascii_digit) {
                *i += 1;
            }
            chars[start..*i].iter().collect::<String>()
        };
        let min = digits(&mut i, &self.chars);
        if min.is_empty() {
            return Ok(None);
        }
        let mut max = Some(min.clone());
        if self.chars.get(i) == Some(&',') {
            i += 1;
            let m = digits(&mut i, &self.chars);
            max = (!m.is_empty()).then_some(m);
        }
        if self.chars.get(i) != Some(&'}') {
            return Ok(None);
        }
        let text: String = self.chars[self.pos..=i].iter().collect();
        let n = |s: &str| s.parse::<u32>().unwrap_or(u32::MAX);
        let (lo, hi) = (n(&min), max.as_deref().map(n));
        if lo > MAX_REPEAT || hi.is_some_and(|h| h > MAX_REPEAT || h < lo) {
            return Err(format!("invalid repeat count: `{text}`"));
        }
        self.pos = i + 1;
        Ok(Some(match hi {
            Some(h) if h == lo && !text.contains(',') => format!("{{{lo}}}"),
            Some(h) => format!("{{{lo},{h}}}"),
            None => format!("{{{lo},}}"),
        }))
    }

    /// `(`, `(?:`, `(?P<name>`, or a flag group `(?i)` / `(?i-s:`.
    fn group(&mut self) -> Result<(), String> {
        if self.at(1) != Some('?') {
            self.pos += 1;
            self.out.push('(');
            return Ok(());
        }
        let unsupported = |t: &Self| {
            let shown: String = t.chars[t.pos..].iter().take(3).collect();
            Err(format!("invalid or unsupported Perl syntax: `{shown}`"))
        };
        match self.at(2) {
            Some(':') => {
                self.pos += 3;
                self.out.push_str("(?:");
                Ok(())
            }
            Some('P') if self.at(3) == Some('<') => {
                let start = self.pos + 4;
                let end = (start..self.chars.len())
                    .find(|&i| self.chars[i] == '>')
                    .ok_or_else(|| format!("invalid named capture: `{}`", self.rest()))?;
                let name: String = self.chars[start..end].iter().collect();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("invalid named capture: `(?P<{name}>`"));
                }
                self.pos = end + 1;
                self.out.push_str(&format!("(?P<{name}>"));
                Ok(())
            }
            _ => {
                // Flags: i, m, s, U, at most one `-`, ending in `)` or `:`.
                let mut i = self.pos + 2;
                let mut flags = String::new();
                let mut negated = false;
                let mut after_minus = false;
                loop {
                    match self.chars.get(i) {
                        Some(&c @ ('i' | 'm' | 's' | 'U')) => {
                            flags.push(c);
                            after_minus = false;
                        }
                        Some('-') if !negated => {
                            negated = true;
                            after_minus = true;
                            flags.push('-');
                        }
                        Some(&end @ (')' | ':')) if !flags.is_empty() && !after_minus => {
                            self.pos = i + 1;
                            self.out.push_str(&format!("(?{flags}{end}"));
                            return Ok(());
                        }
                        _ => return unsupported(self),
                    }
                    i += 1;
                }
            }
        }
    }

    /// An escape outside a class; returns whether it wrote an atom.
    fn escape(&mut self) -> Result<bool, String> {
        let Some(c) = self.at(1) else {
            return Err("trailing backslash at end of expression".into());
        };
        match c {
            'Q' => {
                self.pos += 2;
                let mut wrote = false;
                while self.pos < self.chars.len() {
                    if self.peek() == Some('\\') && self.at(1) == Some('E') {
                        self.pos += 2;
                        break;
                    }
                    let lit = self.chars[self.pos];
                    self.out.push_str(&regex::escape(&lit.to_string()));
                    self.pos += 1;
                    wrote = true;
                }
                Ok(wrote)
            }
            'A' | 'z' => {
                self.pos += 2;
                self.out.push('\\');
                self.out.push(c);
                Ok(true)
            }
            // Go's word boundary is ASCII.
            'b' | 'B' => {
                self.pos += 2;
                self.out.push_str(&format!(r"(?-u:\{c})"));
                Ok(true)
            }
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.pos += 2;
                let (set, negated) = perl_class(c);
                self.out
                    .push_str(&format!("[{}{set}]", if negated { "^" } else { "" }));
                Ok(true)
            }
            'p' | 'P' => {
                let class = self.unicode_class()?;
                self.out.push_str(&class);
                Ok(true)
            }
            _ => {
                let lit = self.escaped_char()?;
                self.out.push_str(&regex::escape(&lit.to_string()));
                Ok(true)
            }
        }
    }

    /// A single escaped character (`\n`, `\x41`, `\x{263a}`, octal `\101`, `\.`) at the cursor.
    fn escaped_char(&mut self) -> Result<char, String> {
        let c = self
            .at(1)
            .ok_or("trailing backslash at end of expression")?;
        let invalid = |shown: &str| Err(format!("invalid escape sequence: `{shown}`"));
        match c {
            'a' => self.take(2, '\x07'),
            'f' => self.take(2, '\x0C'),
            't' => self.take(2, '\t'),
            'n' => self.take(2, '\n'),
            'r' => self.take(2, '\r'),
            'v' => self.take(2, '\x0B'),
            '0'..='7' => {
                // A lone non-zero digit would be a backreference, which Go does not have.
                let mut end = self.pos + 2;
                while end < self.pos + 4
                    && self.chars.get(end).is_some_and(|d| ('0'..='7').contains(d))
                {
                    end += 1;
                }
                if c != '0' && end == self.pos + 2 {
                    return invalid(&format!("\\{c}"));
                }
                let digits: String = self.chars[self.pos + 1..end].iter().collect();
                self.pos = end;
                let code = u32::from_str_radix(&digits, 8).unwrap_or(0);
                char::from_u32(code).ok_or_else(|| format!("invalid escape sequence: `\\{digits}`"))
            }
            'x' => {
                let (hex, len) = if self.at(2) == Some('{') {
                    let start = self.pos + 3;
                    let end = (start..self.chars.len())
                        .find(|&i| self.chars[i] == '}')
                        .ok_or("invalid escape sequence: `\\x{`")?;
                    (
                        self.chars[start..end].iter().collect::<String>(),
                        end + 1 - self.pos,
                    )
                } else {
                    let hex: String = self.chars
                        [self.pos + 2..(self.pos + 4).min(self.chars.len())]
                        .iter()
                        .collect();
                    (hex, 4)
                };
                let code = (!hex.is_empty() && hex.len() <= 8)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32);
                match code {
                    Some(ch) if hex.len() == 2 || len != 4 => {
                        self.pos += len;
                        Ok(ch)
                    }
                    _ => invalid(&format!("\\x{hex}")),
                }
            }
            // Go lets any ASCII punctuation be escaped to stand for itself.
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => self.take(2, c),
            c => invalid(&format!("\\{c}")),
        }
    }

    fn take(&mut self, n: usize, c: char) -> Result<char, String> {
        self.pos += n;
        Ok(c)
    }
}

#[cfg(test)]
mod tests;
