-- The SQL alertrouter-rev 0.1.0 (commit 9dd995234ad9, schema 16) ran, captured by scripts/capture-release-sql.sh: each statement
-- after the parameter types it was prepared with, ending at a line ';;'.
-- tests/it/upgrade.rs prepares each on the newest schema.
-- params: timestamp with time zone, bigint
delete from audit_log where id in (
                select id from audit_log where at < $1 order by id limit $2 for update skip locked)
;;
-- params: timestamp with time zone
delete from seen_callbacks where expires_at < $1
;;
-- params: timestamp with time zone, text, text, text, uuid, jsonb, jsonb, text, text, text, jsonb
insert into audit_log (at, actor, source, action, incident_id, before, after, client_addr,
            result, reason, detail)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
;;
-- params: text, text, timestamp with time zone, timestamp with time zone, text, timestamp with time zone
insert into schedule_overrides (schedule, username, starts_at, ends_at, created_by, created_at)
         values ($1, $2, $3, $4, $5, $6) returning id
;;
-- params: uuid
select 'INC-' || to_char(started_at at time zone 'UTC', 'YYYYMMDDHH24MI')
         from incidents where id = $1
;;
-- params: uuid, bigint, text
select * from (
    select i.id, i.number, i.status, i.severity, i.route, i.group_labels, i.opened_at,
        i.acknowledged_at, i.acknowledged_by, i.snoozed_until, i.resolved_at, i.resolved_by,
        i.flapping_since,
        coalesce(i.group_labels->>'service', first.labels->>'service') as service,
        coalesce(i.group_labels->>'team', first.labels->>'team') as team,
        coalesce(first.title, 'alert') as title
    from incidents i
    left join lateral (
        select a.labels, coalesce(a.annotations->>'summary', a.alertname) as title
        from alerts a where a.group_id = i.group_id and a.incident_id = i.id
        order by a.starts_at limit 1
    ) first on true where i.id = $1 or i.number = $2
            or i.id = (select incident_id from incident_reports where report_id = $3)) s
;;
-- params: text, text, text, text, timestamp with time zone, timestamp with time zone, text[], bigint, bigint
select * from (
    select i.id, i.number, i.status, i.severity, i.route, i.group_labels, i.opened_at,
        i.acknowledged_at, i.acknowledged_by, i.snoozed_until, i.resolved_at, i.resolved_by,
        i.flapping_since,
        coalesce(i.group_labels->>'service', first.labels->>'service') as service,
        coalesce(i.group_labels->>'team', first.labels->>'team') as team,
        coalesce(first.title, 'alert') as title
    from incidents i
    left join lateral (
        select a.labels, coalesce(a.annotations->>'summary', a.alertname) as title
        from alerts a where a.group_id = i.group_id and a.incident_id = i.id
        order by a.starts_at limit 1
    ) first on true) s
         where ($1::text is null or status = $1) and ($2::text is null or severity = $2)
           and ($3::text is null or service = $3) and ($4::text is null or team = $4)
           and ($5::timestamptz is null or opened_at >= $5)
           and ($6::timestamptz is null or opened_at < $6)
           and ($7::text[] is null or service = any($7))
           and ($8::bigint is null or number < $8)
         order by number desc limit $9
;;
-- params: uuid
select a.fingerprint, a.alertname, a.status, a.labels, a.annotations, a.starts_at,
                a.ends_at, a.generator_url
         from alerts a join incidents i on i.group_id = a.group_id
         where i.id = $1 and a.incident_id = $1 order by a.starts_at
;;
-- params: timestamp with time zone
select avg(extract(epoch from acknowledged_at - opened_at))::float8,
                avg(extract(epoch from resolved_at - opened_at))::float8
         from incidents where opened_at >= $1 - interval '30 days'
;;
-- params: timestamp with time zone
select channel, count(*), min(due_at) filter (where due_at <= $1) from outbox
         where status = 'pending' group by channel
;;
-- params: uuid[]
select distinct incident_id, channel, recipient from outbox
         where incident_id = any($1) and status = 'sent' and payload->>'kind' = 'page'
;;
-- params: uuid, timestamp with time zone, text[], text[], text[], text[], text
select enqueue_outbox($1, $2, $3, $4, $5, $6, $7)
;;
-- params: text, text, text[], text
select g.version, i.id, i.status, i.severity, i.resolved_at, i.ended_at, i.reopen_times,
            i.flapping_since is not null as flapping, i.chain_generation, i.chain_origin,
            i.chain_repeat, i.chain_step, i.acknowledged_at is not null as acknowledged,
            -- Only a resolved incident can resume its chain: skip the snapshot otherwise.
            case when i.status = 'resolved' then i.policy_snapshot end as policy_snapshot,
            coalesce(array_agg(a.incident_id) filter (where a.group_id is not null), '{}')
                as a_incident,
            coalesce(array_agg(a.fingerprint) filter (where a.group_id is not null), '{}')
                as a_fingerprint,
            coalesce(array_agg(a.starts_at) filter (where a.group_id is not null), '{}')
                as a_starts,
            coalesce(array_agg(a.status = 'firing') filter (where a.group_id is not null), '{}')
                as a_firing,
            coalesce(array_agg(a.severity) filter (where a.group_id is not null), '{}')
                as a_severity
         from incident_groups g
         join incidents i on i.id = g.current_incident_id
         left join alerts a on a.group_id = g.id
             and (a.fingerprint = any($3)
                  or (a.incident_id = g.current_incident_id and a.status = 'firing'))
         where g.integration = $1 and g.route = $4 and g.group_key = $2
         group by g.version, i.id
;;
-- params: bigint, bigint
select id, at, actor, source, action, incident_id, before, after, client_addr, result,
                reason, detail
         from audit_log where ($1::bigint is null or id < $1) order by id desc limit $2
;;
-- params: uuid
select id, channel, recipient, status, payload->>'kind' as kind, attempts, due_at,
                sent_at, provider_ref, provider_status, last_error
         from outbox where incident_id = $1 order by id
;;
-- params: bigint
select id, incident_id, channel, recipient, attempts, last_error, created_at
         from outbox where status = 'dead' order by id desc limit $1
;;
-- params: uuid
select id, kind, occurred_at as at, fingerprint, severity, detail
         from incident_events where incident_id = $1 order by id
;;
-- params: timestamp with time zone
select id, name, matchers, starts_at, ends_at, created_by
         from maintenance_windows where ends_at > $1 order by starts_at, id
;;
-- params: uuid, bigint, text
select id, number, severity, opened_at, status, acknowledged_by, snoozed_until,
                policy_snapshot,
                chain_generation, chain_origin, chain_repeat, chain_step, escalation_due_at
         from incidents where id = $1 or number = $2
            or id = (select incident_id from incident_reports where report_id = $3)
         for update
;;
-- params: uuid[], uuid
select id, policy_snapshot, chain_generation, chain_origin, chain_repeat, chain_step,
                escalation_due_at, status, acknowledged_at, route, escalation_held_since
         from incidents where id = any($1) and lease_owner = $2 order by id for update
;;
-- params: uuid[]
select incident_id, labels from alerts where incident_id = any($1) and status = 'firing'
;;
-- params: 
select least(
            (select min(escalation_due_at) from incidents where escalation_due_at is not null),
            (select min(response_due_at) from incidents where response_due_at is not null),
            (select min(due_at) from incident_reports where due_at is not null))
;;
-- params: timestamp with time zone
select name, matchers, starts_at, ends_at from maintenance_windows
         where starts_at <= $1 and ends_at > $1
;;
-- params: uuid
select opened_at from incidents where id = $1
;;
-- params: timestamp with time zone
select schedule, username, starts_at, ends_at from schedule_overrides
         where ends_at > $1 - interval '1 day' order by id
;;
-- params: 
select severity, count(*) from incidents where status = 'open' group by severity
;;
-- params: 
select severity, flapping_since is not null, count(*) from incidents
         where status = 'open' group by 1, 2
;;
-- params: timestamp with time zone, timestamp with time zone, bigint
update incident_reports set due_at = $2
         where incident_id in (
            select incident_id from incident_reports where due_at <= $1
            order by due_at limit $3 for update skip locked)
         returning incident_id
;;
-- params: uuid, bigint[], text[], timestamp with time zone[], text[], text[], timestamp with time zone[], integer[], integer[]
update outbox o set status = u.status, attempts = o.attempts + u.attempt,
            deferrals = o.deferrals + u.deferral, due_at = coalesce(u.due_at, o.due_at),
            provider_ref = coalesce(u.reference, o.provider_ref),
            last_error = coalesce(u.error, o.last_error),
            sent_at = case when u.status = 'sent' then u.at else o.sent_at end,
            lease_owner = null, lease_until = null
         from unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                $7::timestamptz[], $8::int[], $9::int[])
            as u(id, status, due_at, reference, error, at, attempt, deferral)
         -- `any` lets the planner find the rows by their key whatever it guesses of unnest.
         where o.id = any($2) and o.id = u.id and o.lease_owner = $1
         returning o.id
;;
-- params: timestamp with time zone, timestamp with time zone, text
with 
    inc as (
        select i.id, i.opened_at, i.resolved_at, i.flapping_since, i.escalations,
            i.first_acknowledged_at as first_ack, i.response_target_missed_at as missed_at,
            extract(epoch from i.response_target)::float8 as target,
            coalesce(case
                when $3 = 'severity' then i.severity
                when $3 = 'route' then i.route
                when $3 in ('service', 'team') then coalesce(i.group_labels->>$3,
                    (select a.labels->>$3 from alerts a
                     where a.group_id = i.group_id and a.incident_id = i.id
                     order by a.starts_at limit 1))
                else 'all' end, 'none') as key
        from incidents i
        where i.opened_at >= $1 and i.opened_at < $2
    )
        select inc.key, grouping(inc.key) = 1, count(*) from alerts a
        join inc on inc.id = a.incident_id group by grouping sets ((inc.key), ())
;;
-- params: timestamp with time zone, timestamp with time zone, text, text, integer[], time without time zone, time without time zone
with 
    inc as (
        select i.id, i.opened_at, i.resolved_at, i.flapping_since, i.escalations,
            i.first_acknowledged_at as first_ack, i.response_target_missed_at as missed_at,
            extract(epoch from i.response_target)::float8 as target,
            coalesce(case
                when $3 = 'severity' then i.severity
                when $3 = 'route' then i.route
                when $3 in ('service', 'team') then coalesce(i.group_labels->>$3,
                    (select a.labels->>$3 from alerts a
                     where a.group_id = i.group_id and a.incident_id = i.id
                     order by a.starts_at limit 1))
                else 'all' end, 'none') as key
        from incidents i
        where i.opened_at >= $1 and i.opened_at < $2
    ),
        page as (
            select inc.key, o.channel, o.status, o.sent_at at time zone $4 as local
            from outbox o join inc on inc.id = o.incident_id
            where o.payload->>'kind' = 'page' and o.status <> 'cancelled'
        )
        select key, channel, count(*) as pages,
            count(*) filter (where status in ('sent', 'bundled')) as delivered,
            count(*) filter (where status = 'dead') as failed,
            count(*) filter (where status in ('sent', 'bundled') and not (
                extract(isodow from local)::int = any($5) and local::time >= $6
                and local::time < $7)) as outside
        from page group by key, channel
;;
-- params: timestamp with time zone, timestamp with time zone, text
with 
    inc as (
        select i.id, i.opened_at, i.resolved_at, i.flapping_since, i.escalations,
            i.first_acknowledged_at as first_ack, i.response_target_missed_at as missed_at,
            extract(epoch from i.response_target)::float8 as target,
            coalesce(case
                when $3 = 'severity' then i.severity
                when $3 = 'route' then i.route
                when $3 in ('service', 'team') then coalesce(i.group_labels->>$3,
                    (select a.labels->>$3 from alerts a
                     where a.group_id = i.group_id and a.incident_id = i.id
                     order by a.starts_at limit 1))
                else 'all' end, 'none') as key
        from incidents i
        where i.opened_at >= $1 and i.opened_at < $2
    ),
        per as (
            select a.alertname, a.incident_id, count(*) as n from alerts a
            join inc on inc.id = a.incident_id group by 1, 2
        )
        select alertname, sum(n)::bigint, count(*) from per
        group by 1 order by 2 desc, 1 limit 10
;;
-- params: timestamp with time zone, timestamp with time zone, text
with 
    inc as (
        select i.id, i.opened_at, i.resolved_at, i.flapping_since, i.escalations,
            i.first_acknowledged_at as first_ack, i.response_target_missed_at as missed_at,
            extract(epoch from i.response_target)::float8 as target,
            coalesce(case
                when $3 = 'severity' then i.severity
                when $3 = 'route' then i.route
                when $3 in ('service', 'team') then coalesce(i.group_labels->>$3,
                    (select a.labels->>$3 from alerts a
                     where a.group_id = i.group_id and a.incident_id = i.id
                     order by a.starts_at limit 1))
                else 'all' end, 'none') as key
        from incidents i
        where i.opened_at >= $1 and i.opened_at < $2
    ),
        per as (
            select key, target, flapping_since, missed_at is not null as missed, escalations,
                extract(epoch from first_ack - opened_at)::float8 as tta,
                extract(epoch from resolved_at - opened_at)::float8 as ttr
            from inc
        )
        select key, grouping(key) = 1 as total, count(*) as incidents,
            count(tta) as tta_count, avg(tta) as tta_mean,
            percentile_cont(array[0.5, 0.95]) within group (order by tta) as tta_p,
            count(ttr) as ttr_count, avg(ttr) as ttr_mean,
            percentile_cont(array[0.5, 0.95]) within group (order by ttr) as ttr_p,
            count(*) filter (where target is not null) as targeted,
            count(*) filter (where target is not null and not missed
                and coalesce(tta, ttr) <= target) as met,
            count(*) filter (where target is not null and (missed
                or coalesce(tta, ttr) > target)) as missed,
            coalesce(sum(escalations), 0)::bigint as escalations,
            count(*) filter (where flapping_since is not null) as flapping
        from per group by grouping sets ((key), ())
;;
-- params: uuid, text, timestamp with time zone, text, text, timestamp with time zone, timestamp with time zone, timestamp with time zone, text, jsonb, boolean, text
with changed as (
            update incidents set status = $2,
                resolved_at = case when $2 = 'resolved' and status = 'open' then $3 else resolved_at end,
                resolved_by = case when $2 = 'resolved' and status = 'open' then $4 else resolved_by end,
                acknowledged_by = $5,
                acknowledged_at = case when $5 is null then null else coalesce(acknowledged_at, $3) end,
                first_acknowledged_at = coalesce(first_acknowledged_at,
                    case when $5 is not null then $3 end),
                response_due_at = case when $5 is null and $2 = 'open' then response_due_at end,
                snoozed_until = $6, chain_origin = $7, escalation_due_at = $8,
                lease_owner = null, lease_until = null, updated_at = $3
            where id = $1
        ), timeline as (
            insert into incident_events (incident_id, kind, occurred_at, received_at, integration, detail)
            values ($1, $9, $3, $3, 'action', $10)
        ), cancelled as (
            update outbox set status = 'cancelled'
            where incident_id = $1 and status = 'pending' and payload->>'kind' = 'page' and $11
            returning id
        )
        select pg_notify($12, '')
;;
-- params: uuid, timestamp with time zone, timestamp with time zone, bigint
with due as (
            select id, lease_owner from incidents
            where escalation_due_at <= $2 and (lease_until is null or lease_until < $2)
            order by escalation_due_at
            limit $4
            for update skip locked
        )
        update incidents i set lease_owner = $1, lease_until = $3
        from due where i.id = due.id
        returning i.id, due.lease_owner
;;
-- params: timestamp with time zone, bigint
with due as (
            select id, severity, response_due_at, response_target,
                status = 'open' and acknowledged_at is null and escalation_held_since is null
                    as missed
            from incidents where response_due_at <= $1
            order by response_due_at limit $2
            for update skip locked
        ), cleared as (
            update incidents i set response_due_at = null,
                response_target_missed_at = case when due.missed then due.response_due_at
                    else i.response_target_missed_at end
            from due where i.id = due.id
        ), missed as (
            insert into incident_events (incident_id, kind, severity, occurred_at, received_at,
                integration, detail)
            select id, 'response_target_missed', severity, response_due_at, $1, 'escalation',
                jsonb_build_object('target_secs', extract(epoch from response_target)::bigint,
                    'due_at', response_due_at)
            from due where missed
            returning incident_id
        )
        select due.severity from due join missed on missed.incident_id = due.id
;;
-- params: integer[], text[], text[], text[], bigint[], uuid[], boolean[], text[], text[], timestamp with time zone[], timestamp with time zone[], timestamp with time zone[], timestamp with time zone[], text[], text[], text[], text[], text[], timestamp with time zone[], double precision[], text[], boolean[], text, integer[], uuid[], text[], timestamp with time zone[], timestamp with time zone[], text[], text[], text[], text[], text[], text[], integer[], uuid[], text[], text[], text[], timestamp with time zone[]
with p as (
            select * from unnest($1::int[], $2::text[], $3::text[], $4::text[],
                $5::bigint[], $6::uuid[], $7::bool[], $8::text[],
                $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[],
                $13::timestamptz[], $14::text[], $15::text[], $16::text[],
                $17::text[], $18::text[], $19::timestamptz[], $20::float8[],
                $21::text[], $22::bool[])
            as p(n, integration, route, group_key, next_version, incident, is_new, status, severity,
                started_at, now, resolved_at, ended_at, group_labels, external_url, policy, chain,
                snapshot, due_at, response_secs, reopen_times, starts_flapping)
        ), head as (
            insert into incident_groups as g (integration, route, group_key, version,
                current_incident_id)
            select integration, route, group_key, next_version, incident from p order by n
            on conflict (integration, route, group_key) do update
                set version = excluded.version, current_incident_id = excluded.current_incident_id
                where g.version = excluded.version - 1
            returning g.id, g.integration, g.route, g.group_key
        ), w as (
            -- The plans written: their group was where they were decided.
            select p.*, head.id as group_id,
                make_interval(secs => p.response_secs) as response_target
            from p join head using (integration, route, group_key)
        ), new_incident as (
            -- Insert and update are separate so updates do not burn incident numbers.
            insert into incidents (id, group_id, integration, route, policy, group_key,
                group_labels, status, severity, started_at, opened_at, resolved_at, ended_at,
                updated_at, policy_snapshot, chain_generation, chain_origin, escalation_due_at,
                external_url, response_target, response_due_at)
            select incident, group_id, integration, route, policy, group_key, group_labels::jsonb,
                status, severity, started_at, now, resolved_at, ended_at, now, snapshot::jsonb,
                case when chain = 'start' then 1 else 0 end, now, due_at, nullif(external_url, ''),
                response_target, now + response_target
            from w where is_new
            order by n
        ), changed_incident as (
            update incidents i
                set status = w.status, severity = w.severity, resolved_at = w.resolved_at,
                    ended_at = w.ended_at, updated_at = w.now,
                    policy_snapshot = case w.chain when 'start' then w.snapshot::jsonb
                        when 'resume' then coalesce(w.snapshot::jsonb, i.policy_snapshot)
                        else i.policy_snapshot end,
                    reopen_times = coalesce(w.reopen_times::timestamptz[], i.reopen_times),
                    flapping_since = case when w.starts_flapping then w.now else i.flapping_since end,
                    chain_generation = i.chain_generation + (case when w.chain = 'start' then 1 else 0 end),
                    chain_origin = case when w.chain = 'start' then w.now else i.chain_origin end,
                    chain_repeat = case when w.chain = 'start' then 0 else i.chain_repeat end,
                    chain_step = case when w.chain = 'start' then 0 else i.chain_step end,
                    escalation_due_at = case w.chain when 'start' then w.due_at when 'resume' then w.due_at
                        when 'stop' then null else i.escalation_due_at end,
                    acknowledged_at = case when w.chain = 'start' then null else i.acknowledged_at end,
                    acknowledged_by = case when w.chain = 'start' then null else i.acknowledged_by end,
                    response_target = case when w.chain = 'start' then w.response_target
                        else i.response_target end,
                    response_due_at = case when w.chain = 'start' then w.now + w.response_target
                        when w.chain = 'stop' then null else i.response_due_at end,
                    escalation_held_since = case when w.chain = 'keep' then i.escalation_held_since
                        else null end
            from w where i.id = w.incident and not w.is_new
        ), cancelled as (
            -- Marked, so that a reopen within the window can send them after all.
            update outbox o set status = 'cancelled', last_error = 'cancelled: resolved'
            from w
            where o.incident_id = w.incident and o.status = 'pending' and w.chain = 'stop'
                and o.payload->>'kind' = 'page'
        ), notified as (
            -- Delivered at commit: wakes the timer workers for the new due time.
            select pg_notify($23, '')
            where exists (select 1 from w where chain in ('start', 'resume'))
        ), occurrences as (
            insert into alerts as a (group_id, incident_id, fingerprint, starts_at, ends_at, status,
                severity, alertname, labels, annotations, generator_url, created_at, updated_at)
            select w.group_id, u.incident_id, u.fingerprint, u.starts_at, u.ends_at, u.status,
                u.severity, u.alertname, u.labels::jsonb, u.annotations::jsonb, u.generator_url,
                w.now, w.now
            from unnest($24::int[], $25::uuid[], $26::text[],
                $27::timestamptz[], $28::timestamptz[], $29::text[], $30::text[],
                $31::text[], $32::text[], $33::text[], $34::text[])
                as u(plan, incident_id, fingerprint, starts_at, ends_at, status, severity, alertname,
                     labels, annotations, generator_url)
            join w on w.n = u.plan
            on conflict (group_id, fingerprint, starts_at) do update
                set status = excluded.status, ends_at = excluded.ends_at,
                    updated_at = excluded.updated_at
        ), timeline as (
            insert into incident_events (incident_id, kind, fingerprint, severity, occurred_at,
                received_at, integration)
            select u.incident_id, u.kind, u.fingerprint, u.severity, u.occurred_at, w.now, w.integration
            from unnest($35::int[], $36::uuid[], $37::text[], $38::text[],
                $39::text[], $40::timestamptz[]) with ordinality
                as u(plan, incident_id, kind, fingerprint, severity, occurred_at, k)
            join w on w.n = u.plan
            order by u.k
        )
        select n from w, (select count(*) from notified) as wake
;;
-- params: uuid[], timestamp with time zone, text[], text[], text[], text[], text, uuid[], text[], text[], uuid[], integer[], integer[], timestamp with time zone[], integer[], timestamp with time zone[], boolean[], integer[]
with pages as (
            select enqueue_outbox_rows($1, $2, $3, $4, $5, $6, $7) as written
        ), timeline as (
            insert into incident_events (incident_id, kind, occurred_at, received_at, integration, detail)
            select u.incident_id, u.kind, $2, $2, 'escalation', u.detail::jsonb
            from unnest($8::uuid[], $9::text[], $10::text[])
                with ordinality as u(incident_id, kind, detail, n)
            order by u.n
        ), moved as (
            update incidents i set chain_repeat = u.repeat, chain_step = u.step,
                escalation_due_at = u.due_at, chain_generation = u.generation,
                chain_origin = u.origin, escalation_held_since = null,
                lease_owner = null, lease_until = null, escalations = escalations + u.later,
                -- A step that fires ends an acknowledgement's timeout or a snooze.
                acknowledged_at = case when u.fired then null else acknowledged_at end,
                acknowledged_by = case when u.fired then null else acknowledged_by end,
                snoozed_until = case when u.fired then null else snoozed_until end
            from unnest($11::uuid[], $12::int[], $13::int[], $14::timestamptz[],
                $15::int[], $16::timestamptz[], $17::bool[], $18::int[])
                as u(id, repeat, step, due_at, generation, origin, fired, later)
            where i.id = u.id
        )
        select written from pages
;;
-- params: uuid, timestamp with time zone, timestamp with time zone, bigint, text[], text[], text[], bigint[]
with recursive skip as (
        (select channel, recipient, id, due_at, lease_until from outbox
         where status = 'pending' and channel = any($5)
         order by channel, recipient, id limit 1)
        union all
        select n.channel, n.recipient, n.id, n.due_at, n.lease_until
        from skip h cross join lateral (
            select channel, recipient, id, due_at, lease_until from outbox
            where status = 'pending' and (channel, recipient) > (h.channel, h.recipient)
            order by channel, recipient, id limit 1
        ) n
        -- Channels sort, so the walk stops after the last one asked for.
        where n.channel <= (select max(c) from unnest($5::text[]) c)
    ), heads as (
        select * from skip where channel = any($5)
        union all
        select distinct on (channel, recipient) channel, recipient, id, due_at, lease_until
        from outbox where status = 'pending' and channel = any($6)
        order by channel, recipient, id
    ), due as (
        -- The limit bounds the join below whatever the statistics say.
        select o.id, o.lease_owner is not null as was_leased from outbox o
        where o.id in (
            select r.id from (
                select h.id, h.due_at, h.channel,
                    row_number() over (partition by h.channel order by h.due_at, h.id) as rank
                from heads h
                where h.due_at <= $2 and (h.lease_until is null or h.lease_until < $2)
            ) r
            join unnest($7::text[], $8::bigint[]) as c(channel, cap) on c.channel = r.channel
            where r.rank <= c.cap
            order by r.due_at, r.id
            limit $4)
          and o.status = 'pending'
        for update of o skip locked
    ), counts as (
        select channel, count(*) as destinations from heads group by channel
    )
    update outbox o set lease_owner = $1, lease_until = $3
    from due, counts, incidents i
    left join lateral (
        select coalesce(a.annotations->>'summary', a.alertname) as title, a.annotations, a.labels,
               a.generator_url
        -- group_id leads the alerts key, so this is an index lookup.
        from alerts a where a.group_id = i.group_id and a.incident_id = i.id
        order by a.starts_at limit 1
    ) first on true
    where o.id = due.id and i.id = o.incident_id and counts.channel = o.channel
    returning o.id, o.dedup_key, o.channel, o.recipient, o.payload, o.attempts, o.deferrals,
        o.created_at, i.id as incident_id, i.number, i.status, i.severity, i.group_labels,
        first.title, first.labels as alert_labels, first.annotations, first.generator_url, i.external_url, i.acknowledged_by,
        i.flapping_since is not null as flapping,
        due.was_leased, counts.destinations
;;
-- params: timestamp with time zone, timestamp with time zone
with sent as (
            select o.channel, extract(epoch from o.sent_at - o.created_at)::float8 as latency
            from outbox o
            where o.created_at >= $1 and o.created_at < $2 and o.status = 'sent'
                and o.payload->>'kind' = 'page'
        )
        select channel, count(*), avg(latency) as mean,
            percentile_cont(array[0.5, 0.95]) within group (order by latency) as p
        from sent group by grouping sets ((channel), ())
;;
-- params: uuid, text, timestamp with time zone
with taken as (
            select count(*) as n from incident_reports
            where (report_id = $2 or report_id like $2 || '-%') and incident_id <> $1
        )
        insert into incident_reports (incident_id, report_id, due_at)
        select $1, case when taken.n = 0 then $2 else $2 || '-' || (taken.n + 1) end, $3
        from taken
        on conflict (incident_id) do update
            set due_at = excluded.due_at, resolutions = incident_reports.resolutions + 1
;;
-- params: text, text, timestamp with time zone, timestamp with time zone, text, timestamp with time zone, text
with w as (
            insert into maintenance_windows (name, matchers, starts_at, ends_at, created_by, created_at)
            values ($1, $2, $3, $4, $5, $6) returning id
        )
        select w.id from w, (select pg_notify($7, '')) n
;;
