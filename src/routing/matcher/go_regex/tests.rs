//! Go's regexp syntax, case by case: what it means, what it accepts, what it refuses.

use super::translate;

fn compiles_like(go: &str, matches: &[&str], misses: &[&str]) {
    let rust = translate(go).unwrap_or_else(|e| panic!("{go}: {e}"));
    let re = regex::Regex::new(&format!("^(?:{rust})$"))
        .unwrap_or_else(|e| panic!("{go} -> {rust}: {e}"));
    for m in matches {
        assert!(re.is_match(m), "{go} ({rust}) should match {m:?}");
    }
    for m in misses {
        assert!(!re.is_match(m), "{go} ({rust}) should not match {m:?}");
    }
}

#[test]
fn perl_classes_and_boundaries_are_ascii_as_in_go() {
    compiles_like(r"\d+", &["42"], &["٣", "４２"]);
    compiles_like(r"\w+", &["li_lei9"], &["李雷", "é"]);
    compiles_like(r"\s", &[" ", "\t"], &["\u{a0}", "\u{b}"]);
    compiles_like(r"[\d.]+", &["1.2"], &["٣"]);
    compiles_like(r"[^\D]", &["7"], &["x", "٣"]);
    // é is not a word character to Go, so x stands between two boundaries.
    compiles_like(r".*\bx\b.*", &["a x b", "éxé"], &["axb"]);
}

#[test]
fn what_only_go_accepts_is_translated() {
    compiles_like(r"\Qa.b\E", &["a.b"], &["axb"]);
    compiles_like(r"a{,3}", &["a{,3}"], &["aaa"]);
    compiles_like(r"\101", &["A"], &["a"]);
    compiles_like(r"\0", &["\0"], &[]);
    compiles_like(r"[[]", &["["], &["]"]);
    compiles_like(r"[a-z&&[^x]]", &["x]", "&]", "a]"], &["a", "X]"]);
    compiles_like(r"\<a", &["<a"], &["a"]);
    compiles_like(r"^*a", &["a"], &[]);
    compiles_like(r"(?P<n>a)", &["a"], &[]);
    compiles_like(r"(?i)HIGH", &["high"], &[]);
    compiles_like(r"[[:alpha:]]+", &["abc"], &["é"]);
    compiles_like(r"\p{Han}+", &["支付"], &["x"]);
    compiles_like(r"\p{^Han}", &["x"], &["支"]);
    compiles_like(r"x{2}", &["xx"], &["x"]);
    compiles_like(r"x{2,}?", &["xxx"], &["x"]);
}

#[test]
fn what_go_refuses_is_refused_with_its_reason() {
    for (go, reason) in [
        ("a{1001}", "invalid repeat count"),
        ("a{2,1}", "invalid repeat count"),
        ("(?<n>a)", "invalid or unsupported Perl syntax"),
        ("(?x)a", "invalid or unsupported Perl syntax"),
        ("a**", "invalid nested repetition operator"),
        ("x{2}{3}", "invalid nested repetition operator"),
        ("*a", "missing argument to repetition operator"),
        (r"\1", "invalid escape sequence"),
        (r"\8", "invalid escape sequence"),
        (r"\C", "invalid escape sequence"),
        (r"\Z", "invalid escape sequence"),
        (r"\e", "invalid escape sequence"),
        ("[z-a]", "invalid character class range"),
        ("[[:foo:]]", "invalid character class range"),
        ("(a", "missing closing )"),
        ("a)", "unexpected )"),
        ("[a", "missing closing ]"),
        ("a\\", "trailing backslash"),
    ] {
        let err = translate(go).expect_err(go);
        assert!(err.contains(reason), "{go}: {err}");
    }
}
