-- The Slack message that shows an incident in a channel or DM: later changes edit it in place.
create table slack_messages (
    incident_id uuid not null,
    -- The configured destination (channel id or user id for a DM).
    target text not null,
    -- Where Slack put it (a DM's D… id for a user) and its timestamp.
    channel text not null,
    ts text not null,
    primary key (incident_id, target)
);
