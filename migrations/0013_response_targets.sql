-- Response targets are a policy's: how long an incident may stay unacknowledged. Each chain
-- start (opening, reopening) sets the deadline; an acknowledgement clears it; the timer worker
-- writes `response_target_missed` for deadlines that pass with the incident still open and
-- unacknowledged, whether or not a step pages then.
alter table incidents
    add column response_target interval,
    add column response_due_at timestamptz;

create index incidents_response_due_idx on incidents (response_due_at)
    where response_due_at is not null;
