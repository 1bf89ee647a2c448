-- Delivering the outbox: attempts, leases, the provider's reference, and what went wrong.
alter table outbox
    add column attempts int not null default 0,
    add column lease_owner uuid,
    add column lease_until timestamptz,
    add column sent_at timestamptz,
    add column provider_ref text,
    add column last_error text;

-- Order per destination: a row waits while an earlier one to the same destination is pending.
create index outbox_destination_pending_idx on outbox (channel, recipient, id)
    where status = 'pending';
