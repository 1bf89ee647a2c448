//! Statistics over a seeded month of 1,200 incidents, checked against figures this test works
//! out itself from the rows it made (not by the service's SQL).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc, Weekday};
use serde_json::Value;
use uuid::Uuid;

use crate::support::{TestDb, TestServer, settings, token};

const SERVICES: [&str; 4] = ["web", "db", "api", "search"];
const SEVERITIES: [&str; 3] = ["critical", "warning", "info"];
const NAMES: [&str; 6] = [
    "HighErrorRate",
    "HighErrorRate",
    "DiskFull",
    "Latency",
    "HighErrorRate",
    "Down",
];
const CHANNELS: [&str; 4] = ["slack", "sms", "email", "pagerduty"];

/// A small deterministic generator: the data set is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

pub struct Page {
    channel: &'static str,
    status: &'static str,
    latency: f64,
}

pub struct Seeded {
    pub id: Uuid,
    pub service: &'static str,
    pub severity: &'static str,
    pub opened: DateTime<Utc>,
    pub target: Option<i64>,
    pub tta: Option<i64>,
    pub ttr: Option<i64>,
    pub escalations: i64,
    pub flapping: bool,
    pub alerts: Vec<&'static str>,
    pub pages: Vec<Page>,
}

fn month_start() -> DateTime<Utc> {
    "2026-11-01T00:00:00Z".parse().unwrap()
}

pub fn seed_set() -> Vec<Seeded> {
    let mut r = Lcg(42);
    let mut out = Vec::new();
    for i in 0..1_200u64 {
        let severity = SEVERITIES[r.next(3) as usize];
        let target = (i % 10 != 0).then_some(match severity {
            "critical" => 300,
            "warning" => 1_800,
            _ => 86_400,
        });
        let tta = (r.next(100) >= 15).then(|| 10 + r.next(3_600) as i64);
        let ttr = (r.next(100) >= 10).then(|| tta.unwrap_or(0) + 60 + r.next(7_200) as i64);
        let alerts = (0..1 + r.next(4))
            .map(|_| NAMES[r.next(6) as usize])
            .collect();
        let pages = (0..1 + r.next(3))
            .map(|_| Page {
                channel: CHANNELS[r.next(4) as usize],
                status: match r.next(20) {
                    0 | 1 => "dead",
                    2 => "cancelled",
                    3 => "bundled",
                    _ => "sent",
                },
                latency: 0.1 + r.next(300) as f64 / 10.0,
            })
            .collect();
        out.push(Seeded {
            id: Uuid::now_v7(),
            service: SERVICES[r.next(4) as usize],
            severity,
            opened: month_start() + TimeDelta::seconds((i * 2_087) as i64),
            target,
            tta,
            ttr,
            escalations: r.next(3) as i64,
            flapping: i % 37 == 0,
            alerts,
            pages,
        });
    }
    out
}

/// When the timer worker would have written `response_target_missed`: at the deadline, when
/// neither an acknowledgement nor the resolution came first.
fn missed_at(s: &Seeded) -> Option<DateTime<Utc>> {
    let target = s.target?;
    s.tta
        .or(s.ttr)
        .is_none_or(|r| r > target)
        .then(|| s.opened + TimeDelta::seconds(target))
}

/// Writes the incidents as the service would have: groups, incidents, alerts, timeline, pages.
pub async fn write(db: &TestDb, set: &[Seeded]) {
    let mut tx = db.pool.begin().await.unwrap();
    for s in set {
        let group: i64 = sqlx::query_scalar(
            "insert into incident_groups (integration, route, group_key, version, current_incident_id)
             values ('am', $1, $2, 1, $3) returning id",
        )
        .bind(s.severity)
        .bind(s.id.to_string())
        .bind(s.id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let at = |secs: Option<i64>| secs.map(|x| s.opened + TimeDelta::seconds(x));
        sqlx::query(
            "insert into incidents (id, group_id, integration, group_key, group_labels, status,
                severity, started_at, opened_at, resolved_at, updated_at, route, policy,
                response_target, flapping_since, first_acknowledged_at, escalations,
                response_target_missed_at)
             values ($1, $2, 'am', $3, jsonb_build_object('service', $4::text), $5, $6, $7, $7,
                $8, $7, $6, $6, make_interval(secs => $9::float8), $10, $11, $12, $13)",
        )
        .bind(s.id)
        .bind(group)
        .bind(s.id.to_string())
        .bind(s.service)
        .bind(if s.ttr.is_some() { "resolved" } else { "open" })
        .bind(s.severity)
        .bind(s.opened)
        .bind(at(s.ttr))
        .bind(s.target.map(|t| t as f64))
        .bind(s.flapping.then_some(s.opened))
        .bind(at(s.tta))
        .bind(s.escalations as i32)
        .bind(missed_at(s))
        .execute(&mut *tx)
        .await
        .unwrap();
        for (k, name) in s.alerts.iter().enumerate() {
            sqlx::query(
                "insert into alerts (group_id, incident_id, fingerprint, starts_at, status, severity,
                    alertname, labels, annotations, generator_url, created_at, updated_at)
                 values ($1, $2, $3, $4, 'firing', $5, $6, jsonb_build_object('alertname', $6::text),
                    '{}', '', $4, $4)",
            )
            .bind(group)
            .bind(s.id)
            .bind(format!("f{k}"))
            .bind(s.opened)
            .bind(s.severity)
            .bind(name)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        let mut events: Vec<(&str, DateTime<Utc>, Value)> = vec![
            ("opened", s.opened, Value::Null),
            (
                "escalated",
                s.opened,
                serde_json::json!({"step": 0, "loop": 0}),
            ),
        ];
        for e in 0..s.escalations {
            events.push((
                "escalated",
                s.opened,
                serde_json::json!({"step": e + 1, "loop": 0}),
            ));
        }
        if let Some(t) = s.tta {
            events.push((
                "acknowledged",
                at(Some(t)).unwrap(),
                serde_json::json!({"actor": "bob"}),
            ));
        }
        if let Some(missed) = missed_at(s) {
            events.push(("response_target_missed", missed, Value::Null));
        }
        for (kind, at, detail) in events {
            sqlx::query(
                "insert into incident_events (incident_id, kind, occurred_at, received_at,
                    integration, detail)
                 values ($1, $2, $3, $3, 'am', nullif($4, 'null'::jsonb))",
            )
            .bind(s.id)
            .bind(kind)
            .bind(at)
            .bind(detail)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        for (k, p) in s.pages.iter().enumerate() {
            let sent = matches!(p.status, "sent" | "bundled")
                .then(|| s.opened + TimeDelta::milliseconds((p.latency * 1000.0) as i64));
            sqlx::query(
                "insert into outbox (incident_id, dedup_key, channel, recipient, payload, status,
                    created_at, due_at, sent_at)
                 values ($1, $2, $3, 'user:alice', '{\"kind\": \"page\"}', $4, $5, $5, $6)",
            )
            .bind(s.id)
            .bind(format!("{}:{k}", s.id))
            .bind(p.channel)
            .bind(p.status)
            .bind(s.opened)
            .bind(sent)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
}

/// Postgres' `percentile_cont`: linear between the two nearest ranks.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = p * (v.len().checked_sub(1)? as f64);
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

fn close(got: &Value, want: Option<f64>, what: &str) {
    match (got.as_f64(), want) {
        (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6, "{what}: {g} ≠ {w}"),
        (None, None) => {}
        (g, w) => panic!("{what}: {g:?} ≠ {w:?}"),
    }
}

fn spread(got: &Value, values: &[f64], what: &str) {
    assert_eq!(got["count"], values.len() as i64, "{what} count");
    let mean = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
    close(&got["mean"], mean, &format!("{what} mean"));
    close(&got["p50"], percentile(values, 0.5), &format!("{what} p50"));
    close(
        &got["p95"],
        percentile(values, 0.95),
        &format!("{what} p95"),
    );
}

/// Checks one group's figures against the incidents of it.
fn check(got: &Value, set: &[&Seeded]) {
    let key = got["key"].as_str().unwrap().to_string();
    assert_eq!(got["incidents"], set.len() as i64, "{key}");
    let alerts: usize = set.iter().map(|s| s.alerts.len()).sum();
    assert_eq!(got["alerts"], alerts as i64, "{key}");
    let tta: Vec<f64> = set.iter().filter_map(|s| s.tta.map(|t| t as f64)).collect();
    let ttr: Vec<f64> = set.iter().filter_map(|s| s.ttr.map(|t| t as f64)).collect();
    spread(&got["time_to_acknowledge"], &tta, &format!("{key} tta"));
    spread(&got["time_to_resolve"], &ttr, &format!("{key} ttr"));
    let targeted: Vec<&&Seeded> = set.iter().filter(|s| s.target.is_some()).collect();
    let met = targeted
        .iter()
        .filter(|s| s.tta.or(s.ttr).is_some_and(|r| r <= s.target.unwrap()))
        .count();
    let missed = targeted
        .iter()
        .filter(|s| s.tta.or(s.ttr).is_none_or(|r| r > s.target.unwrap()))
        .count();
    let t = &got["response_target"];
    assert_eq!(
        (
            t["targeted"].as_u64(),
            t["met"].as_u64(),
            t["missed"].as_u64()
        ),
        (
            Some(targeted.len() as u64),
            Some(met as u64),
            Some(missed as u64)
        ),
        "{key}"
    );
    close(
        &t["share_met"],
        Some(met as f64 / targeted.len() as f64),
        &format!("{key} share"),
    );
    assert_eq!(
        got["escalations"],
        set.iter().map(|s| s.escalations).sum::<i64>(),
        "{key}"
    );
    assert_eq!(
        got["flapping"],
        set.iter().filter(|s| s.flapping).count() as i64,
        "{key}"
    );

    let pages: Vec<(&Seeded, &Page)> = set
        .iter()
        .flat_map(|s| s.pages.iter().map(move |p| (*s, p)))
        .filter(|(_, p)| p.status != "cancelled")
        .collect();
    let delivered = |p: &Page| matches!(p.status, "sent" | "bundled");
    let outside = pages
        .iter()
        .filter(|(s, p)| {
            let at = s.opened + TimeDelta::milliseconds((p.latency * 1000.0) as i64);
            let workday = !matches!(at.weekday(), Weekday::Sat | Weekday::Sun);
            delivered(p) && !(workday && (9..18).contains(&at.hour()))
        })
        .count();
    let g = &got["pages"];
    assert_eq!(g["total"], pages.len() as i64, "{key}");
    assert_eq!(g["outside_business_hours"], outside as i64, "{key}");
    let ok = pages.iter().filter(|(_, p)| delivered(p)).count();
    let dead = pages.iter().filter(|(_, p)| p.status == "dead").count();
    assert_eq!(
        (g["delivered"].as_u64(), g["failed"].as_u64()),
        (Some(ok as u64), Some(dead as u64))
    );
    close(
        &g["success"],
        Some(ok as f64 / (ok + dead) as f64),
        &format!("{key} success"),
    );
    let all: Vec<f64> = pages
        .iter()
        .filter(|(_, p)| p.status == "sent")
        .map(|(_, p)| ((p.latency * 1000.0) as i64) as f64 / 1000.0)
        .collect();
    let all = if key == "all" { all } else { Vec::new() };
    spread(&g["latency"], &all, &format!("{key} latency"));
    for c in g["by_channel"].as_array().unwrap() {
        let channel = c["channel"].as_str().unwrap();
        let of: Vec<&Page> = pages
            .iter()
            .filter(|(_, p)| p.channel == channel)
            .map(|(_, p)| *p)
            .collect();
        let ok = of.iter().filter(|p| delivered(p)).count();
        let dead = of.iter().filter(|p| p.status == "dead").count();
        assert_eq!(
            (
                c["pages"].as_u64(),
                c["delivered"].as_u64(),
                c["failed"].as_u64()
            ),
            (Some(of.len() as u64), Some(ok as u64), Some(dead as u64)),
            "{key} {channel}"
        );
        close(
            &c["success"],
            Some(ok as f64 / (ok + dead) as f64),
            &format!("{key} {channel}"),
        );
        let latency: Vec<f64> = of
            .iter()
            .filter(|p| p.status == "sent")
            .map(|p| ((p.latency * 1000.0) as i64) as f64 / 1000.0)
            .collect();
        // Latency is given for the totals only.
        let latency = if key == "all" { latency } else { Vec::new() };
        spread(&c["latency"], &latency, &format!("{key} {channel} latency"));
    }
}

#[tokio::test]
async fn a_seeded_month_of_1200_incidents_adds_up() {
    let db = TestDb::new().await;
    let set = seed_set();
    write(&db, &set).await;
    // Outside the month: counted nowhere.
    let mut other = seed_set().into_iter().take(2).collect::<Vec<_>>();
    for (s, when) in other
        .iter_mut()
        .zip(["2026-10-31T23:59:59Z", "2026-12-01T00:00:00Z"])
    {
        s.id = Uuid::now_v7();
        s.opened = when.parse().unwrap();
    }
    write(&db, &other).await;
    let server = TestServer::start(settings(&db.url)).await;
    let viewer = token(&server, "val", "viewer", &[]);
    let path = "/api/v1/stats?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&group_by=service";
    let (status, body) = server.api("GET", path, &viewer, None).await;
    assert_eq!(status, 200, "{body}");
    let period = &body["period"];
    check(&period["totals"], &set.iter().collect::<Vec<_>>());
    let groups = period["groups"].as_array().unwrap();
    assert_eq!(groups.len(), SERVICES.len());
    for g in groups {
        let of: Vec<&Seeded> = set.iter().filter(|s| g["key"] == s.service).collect();
        check(g, &of);
    }
    let mut names: BTreeMap<&str, (i64, std::collections::BTreeSet<Uuid>)> = BTreeMap::new();
    for s in &set {
        for n in &s.alerts {
            let e = names.entry(n).or_default();
            e.0 += 1;
            e.1.insert(s.id);
        }
    }
    let mut want: Vec<(&str, i64, usize)> =
        names.iter().map(|(n, (a, i))| (*n, *a, i.len())).collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let got: Vec<(&str, i64, usize)> = period["noisiest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["alertname"].as_str().unwrap(),
                n["alerts"].as_i64().unwrap(),
                n["incidents"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(got, want);

    for bad in [
        "group_by=colour",
        "from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z",
        "from=yesterday",
        "to=2028-01-01T00:00:00Z&from=2026-01-01T00:00:00Z",
    ] {
        let (status, body) = server
            .api("GET", &format!("/api/v1/stats?{bad}"), &viewer, None)
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
}
