-- How many report ids each minute has given out (INC-YYYYMMDDHHMM, then -2, -3, …), so the next
-- is one row's update. Counting the minute's reports instead scanned every report under a lock,
-- which slowed each resolution as reports piled up (found by the fault suite's soak). Seeded
-- with the highest suffix in use, so no id is given twice.
create table report_ids (
    base text primary key,
    taken int not null
);

insert into report_ids (base, taken)
select substring(report_id from '^INC-[0-9]{12}'),
       max(coalesce(substring(report_id from '^INC-[0-9]{12}-([0-9]+)$')::int, 1))
from incident_reports
where report_id ~ '^INC-[0-9]{12}(-[0-9]+)?$'
group by 1;
