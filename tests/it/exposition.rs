//! What `/metrics` exports: one OpenMetrics document, with the standard process metrics, and
//! every family the README's metrics table documents (the table cannot drift from the code).

use std::collections::BTreeSet;

use crate::support::{TestDb, TestServer, settings};

async fn exposition() -> String {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    let (status, text) = server.get("/metrics").await;
    assert_eq!(status, 200);
    text
}

fn families(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Whether a metric name (a family, or a histogram's or counter's series) is one the binary
/// exports, read from the `/metrics` of a real server.
pub async fn exported_metrics() -> impl Fn(&str) -> bool {
    exported_in(families(&exposition().await))
}

/// Whether a name is one of `families` or a series of one.
fn exported_in(families: BTreeSet<String>) -> impl Fn(&str) -> bool {
    move |name: &str| {
        families.contains(name)
            || ["_total", "_bucket", "_sum", "_count"].iter().any(|s| {
                name.strip_suffix(s)
                    .is_some_and(|base| families.contains(base))
            })
    }
}

#[tokio::test]
async fn metrics_are_one_openmetrics_document_with_the_process_metrics() {
    let text = exposition().await;
    assert_eq!(text.matches("# EOF").count(), 1);
    assert!(text.trim_end().ends_with("# EOF"));
    let value = |name: &str| crate::support::server::sample(&text, name);
    assert!(value("process_resident_memory_bytes") > 1e6);
    assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
    assert!(value("process_open_fds") >= 3.0);
    assert!(value("process_max_fds") >= value("process_open_fds"));
    assert!(value("process_threads") >= 1.0);
    // CPU time counts in clock ticks (10 ms): a fresh test process may not have one yet, so
    // spend some and see it counted.
    let cpu = |text: &str| crate::support::server::sample(text, "process_cpu_seconds_total");
    let before = cpu(&text);
    let spin = std::time::Instant::now();
    let mut x = 0u64;
    while spin.elapsed() < std::time::Duration::from_secs(5)
        && alertrouter::metrics::process::sample().unwrap().cpu_seconds <= before
    {
        for _ in 0..100_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    let after = cpu(&alertrouter::metrics::Metrics::new().encode());
    assert!(after > before, "{before} -> {after}");
    let started = value("process_start_time_seconds");
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        started <= now + 1.0 && started > now - 3600.0,
        "{started} vs {now}"
    );
}

#[tokio::test]
async fn the_readme_documents_every_exported_metric() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("## Metrics").unwrap()..];
    let table = &section[section.find("| metric").unwrap()..];
    let table = &table[..table.find("\n\n").unwrap_or(table.len())];
    let documented: BTreeSet<String> = table
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| w.starts_with("alertrouter_") || w.starts_with("process_"))
        .map(|w| w.strip_suffix("_total").unwrap_or(w).to_string())
        .collect();
    let families = families(&exposition().await);
    for family in &families {
        assert!(
            documented.contains(family),
            "{family} is exported but not in the README's metrics table"
        );
    }
    let exported = exported_in(families);
    for name in &documented {
        assert!(
            exported(name),
            "the README documents {name}, which is not exported"
        );
    }
}
