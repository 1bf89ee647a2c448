-- Muted, in maintenance or inhibited: the incident is recorded and its chain held, not fired.
alter table incidents add column escalation_held_since timestamptz;

alter table incident_events drop constraint incident_events_kind_check;
alter table incident_events add constraint incident_events_kind_check check (kind in (
    'opened', 'reopened', 'alert_fired', 'alert_resolved', 'severity_changed', 'resolved',
    'escalated', 'response_target_missed', 'acknowledged', 'suppressed', 'unsuppressed'
));
