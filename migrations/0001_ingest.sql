-- Ingest: alert groups, incidents, alert occurrences and the append-only incident timeline.

-- One row per (integration, group key): the serialization point of a group. Every change to a
-- group bumps `version` in the same statement that writes the change, so two replicas that
-- decided on the same snapshot cannot both commit (the loser reloads and decides again).
create table incident_groups (
    id bigint generated always as identity primary key,
    integration text not null,
    group_key text not null,
    version bigint not null,
    current_incident_id uuid not null,
    unique (integration, group_key)
);

create table incidents (
    id uuid primary key,
    -- Short, human number: INC-42.
    number bigint generated always as identity unique,
    group_id bigint not null references incident_groups (id),
    integration text not null,
    group_key text not null,
    group_labels jsonb not null,
    status text not null check (status in ('open', 'resolved')),
    severity text not null check (severity in ('critical', 'warning', 'info')),
    -- Payload time of the earliest alert that opened it.
    started_at timestamptz not null,
    -- Server time it was opened, last resolved, last changed.
    opened_at timestamptz not null,
    resolved_at timestamptz,
    -- Payload time (latest endsAt) of the resolution.
    ended_at timestamptz,
    updated_at timestamptz not null
);

-- Open incidents by severity (metrics, and the incident lists to come).
create index incidents_open_idx on incidents (severity) where status = 'open';

-- One row per occurrence: (fingerprint, startsAt) within a group.
--
-- alerts and incident_events carry no foreign keys, on purpose: their rows are only ever written
-- by the one ingest statement that derives group and incident ids from the row it has just
-- locked, so they cannot dangle; and per-row foreign-key checks cost a third of the throughput
-- of a 100-alert webhook (measured with scripts/bench.sh).
create table alerts (
    group_id bigint not null,
    incident_id uuid not null,
    fingerprint text not null,
    starts_at timestamptz not null,
    ends_at timestamptz,
    status text not null check (status in ('firing', 'resolved')),
    severity text not null check (severity in ('critical', 'warning', 'info')),
    alertname text not null,
    labels jsonb not null,
    annotations jsonb not null,
    generator_url text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (group_id, fingerprint, starts_at)
);

-- The alerts still firing in an incident: what decides severity and resolution.
create index alerts_firing_idx on alerts (incident_id) where status = 'firing';

create table incident_events (
    id bigint generated always as identity primary key,
    incident_id uuid not null,
    kind text not null check (kind in (
        'opened', 'reopened', 'alert_fired', 'alert_resolved', 'severity_changed', 'resolved'
    )),
    fingerprint text,
    severity text,
    -- The payload's own time (startsAt / endsAt) and the server's.
    occurred_at timestamptz not null,
    received_at timestamptz not null,
    -- Which integration sent the message that caused it.
    integration text not null
);

create index incident_events_incident_idx on incident_events (incident_id, id);

-- The timeline is append-only.
create function incident_events_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'incident_events is append-only';
end
$$;

create trigger incident_events_append_only
    before update or delete on incident_events
    for each statement execute function incident_events_append_only();
