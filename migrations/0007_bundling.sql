-- Bundling a busy destination's pages, and delivery receipts (Twilio's StatusCallback).
alter table outbox
    -- How often a rate limit made this row wait its turn: a row that waited takes the pages
    -- waiting behind it along, as one message.
    add column deferrals int not null default 0,
    -- The row whose message carried this page ("+N more incidents").
    add column bundled_into bigint,
    -- What the provider later said of a sent message (delivered, undelivered, failed).
    add column provider_status text,
    add column provider_status_at timestamptz;

alter table outbox drop constraint outbox_status_check;
alter table outbox add constraint outbox_status_check
    check (status in ('pending', 'sent', 'dead', 'cancelled', 'bundled'));

-- The Alertmanager that reported the incident (its externalURL), for silence links.
alter table incidents add column external_url text;

-- Delivery receipts find their message by the provider's reference.
create index outbox_provider_ref_idx on outbox (provider_ref) where channel = 'sms' and provider_ref is not null;
