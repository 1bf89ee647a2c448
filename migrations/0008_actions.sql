-- Acting on incidents from anywhere: who acknowledged, snoozed or resolved it, the audit log of
-- every action, single-use e-mail links, and SMS opt-outs.
alter table incidents
    add column snoozed_until timestamptz,
    add column resolved_by text;

alter table incident_events drop constraint incident_events_kind_check;
alter table incident_events add constraint incident_events_kind_check check (kind in (
    'opened', 'reopened', 'alert_fired', 'alert_resolved', 'severity_changed', 'resolved',
    'escalated', 'response_target_missed', 'acknowledged', 'suppressed', 'unsuppressed',
    'unacknowledged', 'snoozed', 'reassigned', 'note'
));

-- Every action, done or refused, with who asked, from where, and what it changed.
create table audit_log (
    id bigint generated always as identity primary key,
    at timestamptz not null,
    actor text not null,
    -- slack, api, sms, email, pagerduty
    source text not null,
    action text not null,
    incident_id uuid,
    before jsonb,
    after jsonb,
    client_addr text,
    result text not null check (result in ('done', 'refused')),
    reason text,
    detail jsonb
);
create index audit_log_at_idx on audit_log (at);
create index audit_log_incident_idx on audit_log (incident_id, id);

-- Acknowledge links sent by e-mail: each works once, until it expires.
create table action_links (
    nonce text primary key,
    incident_id uuid not null,
    action text not null,
    recipient text not null,
    expires_at timestamptz not null,
    used_at timestamptz
);

-- Numbers that replied STOP get no more SMS until they reply START.
create table sms_opt_outs (
    phone text primary key,
    at timestamptz not null
);

-- Retention prunes finished notifications by age.
create index outbox_finished_idx on outbox (created_at) where status <> 'pending';

-- One-off maintenance windows opened through the API (config has its own).
create table maintenance_windows (
    id bigint generated always as identity primary key,
    name text not null,
    -- Alertmanager matcher syntax, e.g. {service="web"}.
    matchers text not null,
    starts_at timestamptz not null,
    ends_at timestamptz not null check (ends_at > starts_at),
    created_by text not null,
    created_at timestamptz not null
);
create index maintenance_windows_ends_idx on maintenance_windows (ends_at);

-- Schedule overrides made through the API: `user` is on call for `schedule` in [starts, ends).
create table schedule_overrides (
    id bigint generated always as identity primary key,
    schedule text not null,
    username text not null,
    starts_at timestamptz not null,
    ends_at timestamptz not null check (ends_at > starts_at),
    created_by text not null,
    created_at timestamptz not null
);
create index schedule_overrides_ends_idx on schedule_overrides (ends_at);
