//! Parity with Alertmanager's matcher semantics, case by case.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn matching_table() {
    let web = labels(&[
        ("alertname", "HighErrorRate"),
        ("severity", "critical"),
        ("team", "sre"),
        ("env", ""),
    ]);
    let utf8 = labels(&[
        ("alertname", "Störung"),
        ("service", "支付"),
        ("severity", "warning"),
    ]);
    let cases: &[(&str, &LabelSet, bool)] = &[
        (r#"severity="critical""#, &web, true),
        (r#"severity="Critical""#, &web, false),
        (r#"severity!="critical""#, &web, false),
        (r#"severity!="warning""#, &web, true),
        (r#"severity=~"critical|warning""#, &web, true),
        (r#"severity=~"crit""#, &web, false), // anchored: no partial match
        (r#"severity=~"crit.*""#, &web, true),
        (r#"severity=~".*tical""#, &web, true),
        (r#"severity!~"crit""#, &web, true), // anchored in negation too
        (r#"severity!~"critical|warning""#, &web, false),
        (r#"missing="""#, &web, true), // a missing label is ""
        (r#"missing!="""#, &web, false),
        (r#"missing!="x""#, &web, true), // != on a missing label matches
        (r#"missing=~".*""#, &web, true),
        (r#"missing=~".+""#, &web, false),
        (r#"missing!~".+""#, &web, true),
        (r#"env="""#, &web, true), // an empty value equals a missing one
        (r#"env=~"""#, &web, true),
        (r#"team=~"sre|db""#, &web, true),
        (r#"team=~"(sre|db)-.*""#, &web, false),
        (r#"alertname=~"High.*Rate""#, &web, true),
        (r#"alertname=~"high.*rate""#, &web, false), // case-sensitive
        (r#"alertname=~"(?i)high.*rate""#, &web, true), // unless the regex says so
        (r#"alertname="Störung""#, &utf8, true),
        (r#"service="支付""#, &utf8, true),
        (r#"service=~"支.""#, &utf8, true),
        (r#"service=~"支""#, &utf8, false),
        (r#"alertname=~"St.rung""#, &utf8, true), // . is one character, not one byte
        ("severity=critical", &web, true),        // unquoted value
        ("severity = critical", &web, true),
        (r#"{severity="critical", team="sre"}"#, &web, true),
        (r#"{severity="critical", team="db"}"#, &web, false),
        (r#"severity="critical",team!~"db|dba","#, &web, true), // trailing comma
        (r#"alertname=~"High\\w+""#, &web, true),               // regex escape passes through
    ];
    assert!(cases.len() >= 30);
    for (input, set, want) in cases {
        let matchers = parse_matchers(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(all_match(&matchers, set), *want, "{input}");
    }
}

#[test]
fn quoted_values_unescape_like_alertmanager() {
    let m = &parse_matchers(r#"summary="say \"hi\"\n\\ok""#).unwrap()[0];
    assert_eq!(m.value, "say \"hi\"\n\\ok");
    let m = &parse_matchers(r#"a="x,y}""#).unwrap()[0];
    assert_eq!(m.value, "x,y}");
}

#[test]
fn parse_errors_say_what_is_wrong_as_alertmanager_does() {
    let cases = [
        (r#"severity"#, "bad matcher format"),
        (r#"="x""#, "bad matcher format"),
        (r#"1abc="x""#, "bad matcher format"),
        (r#" {a="b"}"#, "bad matcher format"),
        ("a\u{a0}=\"b\"", "bad matcher format"),
        (r#"a="b",,c="d""#, "bad matcher format"),
        (r#"a="x"#, "unescaped double quote"),
        (r#"a=~"(""#, "error parsing regexp"),
        (r#"a="x" b="y""#, "unescaped double quote"),
        (r#"a=x"y"#, "unescaped double quote"),
    ];
    for (input, want) in cases {
        let err = parse_matchers(input).unwrap_err();
        assert!(err.contains(want), "{input}: {err}");
    }
}

#[test]
fn what_alertmanager_tolerates_is_accepted() {
    for (input, n) in [
        ("", 0),
        ("{}", 0),
        (r#"{foo="bar""#, 1),
        (r#"foo="bar"}"#, 1),
        (r#"a="b","#, 1),
        (r#"a = b c "#, 1),
        ("a=", 1),
        (r#"a=~"\\d","#, 1),
    ] {
        let parsed = parse_matchers(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed.len(), n, "{input}");
    }
    assert_eq!(parse_matchers("a = b c ").unwrap()[0].value, "b c");
}
