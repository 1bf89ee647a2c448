//! Statements with named parameters: `:name` in the SQL, bound by name in Rust, so a statement
//! with dozens of parameters can be checked by reading (no `$31` to count to). The names are
//! numbered once per statement; a name in the SQL that is not bound, or a bound name the SQL
//! does not use, panics at the statement's first use (every statement runs in the tests).

/// Rewrites `:name` to `$n`, n being the name's place in `names` (1-based). `::` casts, quoted
/// literals and `--` comments are left alone.
pub fn number(sql: &str, names: &[&str]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut used = vec![false; names.len()];
    let mut chars = sql.char_indices().peekable();
    let mut in_quote = false;
    let mut prev = ' ';
    while let Some((i, c)) = chars.next() {
        if c == '-' && !in_quote && chars.peek().is_some_and(|(_, n)| *n == '-') {
            // A comment, to the end of its line.
            out.push(c);
            for (_, c) in chars.by_ref() {
                out.push(c);
                if c == '\n' {
                    break;
                }
            }
            prev = '\n';
            continue;
        }
        if c == '\'' {
            in_quote = !in_quote;
        }
        let starts_name = !in_quote
            && c == ':'
            && prev != ':'
            && chars
                .peek()
                .is_some_and(|(_, n)| n.is_ascii_alphabetic() || *n == '_');
        if !starts_name {
            out.push(c);
            prev = c;
            continue;
        }
        let rest = &sql[i + 1..];
        let len = rest
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..len];
        let Some(n) = names.iter().position(|x| *x == name) else {
            panic!("statement uses :{name}, which is not bound");
        };
        used[n] = true;
        out.push_str(&format!("${}", n + 1));
        for _ in 0..len {
            chars.next();
        }
        prev = 'x';
    }
    if let Some(n) = used.iter().position(|u| !u) {
        panic!("{} is bound but the statement does not use it", names[n]);
    }
    out
}

/// `named!(sqlx::query_as::<_, (i64,)>, "select :a::int + :b", a = 1, b = 2)`: the query with
/// its parameters numbered and bound by name. The SQL must be a literal (it is numbered once).
macro_rules! named {
    ($kind:expr, $sql:literal, $($name:ident = $value:expr),+ $(,)?) => {{
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            $crate::store::named::number($sql, &[$(stringify!($name)),+])
        });
        $kind(SQL.as_str())$(.bind($value))+
    }};
}
pub(crate) use named;

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn names_become_numbers_and_casts_and_literals_stay() {
        assert_eq!(
            number(
                "select :b::int, ':a', :a || :b, x::text -- it's :a\n, :a",
                &["a", "b"]
            ),
            "select $2::int, ':a', $1 || $2, x::text -- it's :a\n, $1"
        );
    }

    #[test]
    #[should_panic(expected = ":c, which is not bound")]
    fn a_name_not_bound_is_refused() {
        number("select :a, :c", &["a"]);
    }

    #[test]
    #[should_panic(expected = "b is bound but the statement does not use it")]
    fn a_bound_name_not_used_is_refused() {
        number("select :a", &["a", "b"]);
    }
}
