-- Retention: the sweep removes a domain event only once no delivery refers
-- to it (a replay needs its payload), which it asks by event.
create index webhook_deliveries_event on webhook_deliveries (event_id);
