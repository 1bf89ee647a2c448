-- The outbox's one writer, for rows of several incidents at once (the timer worker commits a
-- batch of incidents' fired steps in one statement): `p_incidents` names each row's incident.
-- Same rules as before: the order given is the order per destination, a row whose dedup key
-- exists is skipped, the dispatchers are woken when anything was written. `enqueue_outbox`
-- (one incident) becomes a call of it, so there is still one writer; its signature is
-- unchanged, so the previous release runs against this schema.
create function enqueue_outbox_rows(p_incidents uuid[], p_at timestamptz, p_keys text[],
    p_channels text[], p_recipients text[], p_payloads text[], p_wake text)
returns bigint language plpgsql as $$
declare
    written bigint;
begin
    insert into outbox (incident_id, dedup_key, channel, recipient, payload, created_at, due_at)
    select u.incident, u.key, u.channel, u.recipient, u.payload::jsonb, p_at, p_at
    from unnest(p_incidents, p_keys, p_channels, p_recipients, p_payloads) with ordinality
        as u(incident, key, channel, recipient, payload, n)
    order by u.n
    on conflict (dedup_key) do nothing;
    get diagnostics written = row_count;
    if written > 0 then
        perform pg_notify(p_wake, '');
    end if;
    return written;
end
$$;

create or replace function enqueue_outbox(p_incident uuid, p_at timestamptz, p_keys text[],
    p_channels text[], p_recipients text[], p_payloads text[], p_wake text)
returns bigint language sql as $$
    select enqueue_outbox_rows(array_fill(p_incident, array[coalesce(cardinality(p_keys), 0)]),
        p_at, p_keys, p_channels, p_recipients, p_payloads, p_wake)
$$;
