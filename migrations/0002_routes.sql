-- Incidents belong to a route of the routing tree: one incident per group, per route.
alter table incident_groups add column route text not null default 'root';
alter table incident_groups alter column route drop default;
alter table incident_groups drop constraint incident_groups_integration_group_key_key;
alter table incident_groups add constraint incident_groups_route_key unique (integration, route, group_key);

alter table incidents add column route text not null default 'root';
alter table incidents alter column route drop default;
-- The escalation policy the incident opened with; null pages no one.
alter table incidents add column policy text;
