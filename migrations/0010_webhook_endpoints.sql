-- Outgoing webhook endpoints that answered 410 Gone: nothing more is sent to them until their
-- URL changes in config (a disabled row whose url differs from the configured one is ignored).
create table disabled_webhooks (
    name text primary key,
    url text not null,
    disabled_at timestamptz not null,
    reason text not null
);
