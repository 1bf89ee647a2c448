-- The dead man's switch: when each integration's heartbeat alert was last seen (or, before the
-- first one, when watching began), and since when it has been missing (while it is). Shared by
-- every replica, so they agree on when it went missing and open one incident, not one each.
create table heartbeats (
    integration text primary key,
    last_seen_at timestamptz not null,
    missing_since timestamptz
);
