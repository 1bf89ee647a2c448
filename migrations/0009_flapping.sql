-- Flapping groups: a reopen within the window resumes the chain (no new generation), so the
-- incident remembers its recent reopens, and whether they made it flapping.
alter table incidents
    -- Server times of recent reopens, oldest first, no older than the flapping window.
    add column reopen_times timestamptz[] not null default '{}',
    add column flapping_since timestamptz;

alter table incident_events drop constraint incident_events_kind_check;
alter table incident_events add constraint incident_events_kind_check check (kind in (
    'opened', 'reopened', 'alert_fired', 'alert_resolved', 'severity_changed', 'resolved',
    'escalated', 'response_target_missed', 'acknowledged', 'suppressed', 'unsuppressed',
    'unacknowledged', 'snoozed', 'reassigned', 'note', 'flapping'
));
