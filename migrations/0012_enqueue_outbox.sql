-- The one writer of outbox rows. Every page and notice is written through it, in the order given
-- (the order per destination is the order of writing); a row whose dedup key exists already is
-- skipped, so a replayed decision writes nothing twice. Wakes the dispatchers (`wake` names
-- their LISTEN channel) when it wrote anything. A function, so that statements that write
-- other tables too (the timer worker's) stay one round trip.
create function enqueue_outbox(p_incident uuid, p_at timestamptz, p_keys text[],
    p_channels text[], p_recipients text[], p_payloads text[], p_wake text)
returns bigint language plpgsql as $$
declare
    written bigint;
begin
    insert into outbox (incident_id, dedup_key, channel, recipient, payload, created_at, due_at)
    select p_incident, u.key, u.channel, u.recipient, u.payload::jsonb, p_at, p_at
    from unnest(p_keys, p_channels, p_recipients, p_payloads) with ordinality
        as u(key, channel, recipient, payload, n)
    order by u.n
    on conflict (dedup_key) do nothing;
    get diagnostics written = row_count;
    if written > 0 then
        perform pg_notify(p_wake, '');
    end if;
    return written;
end
$$;
