-- Callbacks already handled, so a replay of a signed request does nothing twice: Slack's
-- (timestamp, signature) pairs, PagerDuty's event ids, Twilio's MessageSids. Shared by every
-- replica; pruned once expired.
create table seen_callbacks (
    source text not null,
    key text not null,
    expires_at timestamptz not null,
    primary key (source, key)
);

create index seen_callbacks_expires_idx on seen_callbacks (expires_at);
