-- What statistics read of each incident, kept on it by the statements that write the timeline
-- events they summarise (a join over the whole timeline took a second at 100,000 incidents):
-- the first acknowledgement (or snooze), when the response target was missed, and how many
-- escalation steps fired after the first page. Existing incidents are filled from their
-- timelines.
alter table incidents
    add column first_acknowledged_at timestamptz,
    add column response_target_missed_at timestamptz,
    add column escalations int not null default 0;

update incidents i set
    first_acknowledged_at = e.acked, response_target_missed_at = e.missed,
    escalations = e.escalations
from (
    select incident_id,
        min(occurred_at) filter (where kind in ('acknowledged', 'snoozed')) as acked,
        min(occurred_at) filter (where kind = 'response_target_missed') as missed,
        count(*) filter (where kind = 'escalated'
            and (coalesce((detail->>'step')::int, 0) > 0
                 or coalesce((detail->>'loop')::int, 0) > 0))::int as escalations
    from incident_events
    where kind in ('acknowledged', 'snoozed', 'response_target_missed', 'escalated')
    group by incident_id
) e
where e.incident_id = i.id;

-- Statistics and the monthly report read incidents by when they opened.
create index incidents_opened_at_idx on incidents (opened_at);

-- What kind of notification a row is (page, resolved, report, …) lives in its payload; without
-- statistics on it Postgres guessed 0.5 % of rows were pages and joined them row by row.
create statistics outbox_kind_stats on ((payload->>'kind')) from outbox;
