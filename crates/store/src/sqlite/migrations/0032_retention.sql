-- Retention. The sweep removes a domain event only once no delivery refers
-- to it (a replay needs its payload), which it asks by event.
create index webhook_deliveries_event on webhook_deliveries (event_id);
-- An execution's output and tool calls (which hold what citizens wrote) are
-- trimmed after retention.executions_days; its figures stay. The sweep finds
-- the untrimmed ones by age.
alter table executions add column trimmed integer not null default 0;
create index executions_untrimmed on executions (started_at) where trimmed = 0;
