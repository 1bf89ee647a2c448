-- The escalation engine: each incident's position in its policy's chain, the lease of the timer
-- worker that is firing it, and the transactional outbox its pages are written to.

alter table incidents
    -- The policy as it was when the chain (re)started: a config reload applies to new incidents.
    add column policy_snapshot jsonb,
    add column chain_generation int not null default 0,
    add column chain_origin timestamptz,
    add column chain_repeat int not null default 0,
    add column chain_step int not null default 0,
    -- When the next step is due; null when nothing is pending.
    add column escalation_due_at timestamptz,
    add column acknowledged_at timestamptz,
    add column acknowledged_by text,
    add column lease_owner uuid,
    add column lease_until timestamptz;

-- Only incidents with a pending step are indexed, so claiming stays fast however many incidents
-- have finished escalating.
create index incidents_escalation_due_idx on incidents (escalation_due_at)
    where escalation_due_at is not null;

alter table incident_events drop constraint incident_events_kind_check;
alter table incident_events add constraint incident_events_kind_check check (kind in (
    'opened', 'reopened', 'alert_fired', 'alert_resolved', 'severity_changed', 'resolved',
    'escalated', 'response_target_missed', 'acknowledged'
));
alter table incident_events add column detail jsonb;

-- Every notification, written in the same transaction as the state change that caused it.
create table outbox (
    id bigint generated always as identity primary key,
    incident_id uuid not null,
    -- Incident, chain generation, loop, step, recipient and channel: a step's pages are written once.
    dedup_key text not null unique,
    channel text not null,
    recipient text not null,
    payload jsonb not null,
    status text not null default 'pending'
        check (status in ('pending', 'sent', 'dead', 'cancelled')),
    created_at timestamptz not null,
    due_at timestamptz not null
);

create index outbox_pending_idx on outbox (due_at) where status = 'pending';
create index outbox_incident_idx on outbox (incident_id);
