//! Loading a group's state and committing what the core decided about a webhook.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::core::escalation::{PolicySnapshot, StoredChain};
use crate::core::ingest::{GroupSnapshot, IncidentSnapshot, KnownAlert};
use crate::core::policy::EscalationPolicy;
use crate::core::{IncidentStatus, Severity};

/// Whether a plan was committed or lost a race with another writer of the same group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Committed,
    /// The group changed since it was loaded: reload, decide again.
    Conflict,
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    version: i64,
    id: Uuid,
    status: String,
    severity: String,
    resolved_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    reopen_times: Vec<DateTime<Utc>>,
    flapping: bool,
    #[sqlx(flatten)]
    chain: super::chain::ChainColumns,
    acknowledged: bool,
    policy_snapshot: Option<serde_json::Value>,
    a_incident: Vec<Uuid>,
    a_fingerprint: Vec<String>,
    a_starts: Vec<DateTime<Utc>>,
    a_firing: Vec<bool>,
    a_severity: Vec<String>,
}

/// Loads the group's latest incident (with its chain), the known occurrences of
/// `fingerprints`, and the alerts still firing in that incident — in one round trip.
pub async fn load_group(
    pool: &PgPool,
    integration: &str,
    route: &str,
    group_key: &str,
    fingerprints: &[String],
) -> Result<GroupSnapshot, sqlx::Error> {
    let row: Option<GroupRow> = sqlx::query_as(
        "select g.version, i.id, i.status, i.severity, i.resolved_at, i.ended_at, i.reopen_times,
            i.flapping_since is not null as flapping, i.chain_generation, i.chain_origin,
            i.chain_repeat, i.chain_step, i.acknowledged_at is not null as acknowledged,
            -- Only a resolved incident can resume its chain: skip the snapshot otherwise.
            case when i.status = 'resolved' then i.policy_snapshot end as policy_snapshot,
            coalesce(array_agg(a.incident_id) filter (where a.group_id is not null), '{}')
                as a_incident,
            coalesce(array_agg(a.fingerprint) filter (where a.group_id is not null), '{}')
                as a_fingerprint,
            coalesce(array_agg(a.starts_at) filter (where a.group_id is not null), '{}')
                as a_starts,
            coalesce(array_agg(a.status = 'firing') filter (where a.group_id is not null), '{}')
                as a_firing,
            coalesce(array_agg(a.severity) filter (where a.group_id is not null), '{}')
                as a_severity
         from incident_groups g
         join incidents i on i.id = g.current_incident_id
         left join alerts a on a.group_id = g.id
             and (a.fingerprint = any($3)
                  or (a.incident_id = g.current_incident_id and a.status = 'firing'))
         where g.integration = $1 and g.route = $4 and g.group_key = $2
         group by g.version, i.id",
    )
    .bind(integration)
    .bind(group_key)
    .bind(fingerprints)
    .bind(route)
    .fetch_optional(pool)
    .await?;

    let Some(r) = row else {
        return Ok(GroupSnapshot::default());
    };
    let corrupt = |what: &str| sqlx::Error::Protocol(format!("unexpected {what} in database"));
    let alerts = (0..r.a_fingerprint.len())
        .map(|i| {
            Ok(KnownAlert {
                incident_id: r.a_incident[i],
                fingerprint: r.a_fingerprint[i]
                    .parse()
                    .map_err(|_| corrupt("fingerprint"))?,
                starts_at: r.a_starts[i],
                firing: r.a_firing[i],
                severity: r.a_severity[i].parse().map_err(|_| corrupt("severity"))?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let chain = StoredChain {
        chain: r.chain.chain(),
        acknowledged: r.acknowledged,
        policy: r
            .policy_snapshot
            .and_then(|v| serde_json::from_value::<PolicySnapshot>(v).ok())
            .and_then(|p| EscalationPolicy::try_from(&p).ok()),
    };
    Ok(GroupSnapshot {
        version: r.version,
        incident: Some(IncidentSnapshot {
            id: r.id,
            status: IncidentStatus::from_db(&r.status).ok_or_else(|| corrupt("status"))?,
            severity: r
                .severity
                .parse::<Severity>()
                .map_err(|_| corrupt("severity"))?,
            resolved_at: r.resolved_at,
            ended_at: r.ended_at,
            reopens: r.reopen_times,
            flapping: r.flapping,
            chain: Some(chain),
        }),
        alerts,
    })
}

/// When `incident` opened (for its time to resolve); `None` if there is no such incident.
pub async fn opened_at(
    tx: &mut sqlx::PgConnection,
    incident: Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("select opened_at from incidents where id = $1")
        .bind(incident)
        .fetch_optional(&mut *tx)
        .await
}
