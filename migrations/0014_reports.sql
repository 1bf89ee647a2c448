-- Incident report drafts. One per incident, made when it first resolves (a reopened incident
-- updates its draft), under an id of the form INC-YYYYMMDDHHMM from its first alert's start (a
-- suffix -2, -3 when several share a minute). The free sections edited through the API are kept
-- apart from the generated text, so a regeneration keeps them.
create table incident_reports (
    incident_id uuid primary key references incidents (id) on delete cascade,
    report_id text not null unique,
    -- {"root_cause": "…", …}: what people wrote; a section absent here is filled from notes.
    sections jsonb not null default '{}',
    edited_by text,
    edited_at timestamptz,
    -- The last draft generated and delivered, and in which locale.
    markdown text,
    locale text,
    generated_at timestamptz,
    -- When the draft is to be generated and delivered (resolution + reports.delay); null once
    -- done. While a timer worker drafts it, its lease: a later time.
    due_at timestamptz,
    resolutions int not null default 1
);

create index incident_reports_due_idx on incident_reports (due_at) where due_at is not null;

alter table incident_events drop constraint incident_events_kind_check;
alter table incident_events add constraint incident_events_kind_check check (kind in (
    'opened', 'reopened', 'alert_fired', 'alert_resolved', 'severity_changed', 'resolved',
    'escalated', 'response_target_missed', 'acknowledged', 'suppressed', 'unsuppressed',
    'unacknowledged', 'snoozed', 'reassigned', 'note', 'flapping', 'report_edited'
));
