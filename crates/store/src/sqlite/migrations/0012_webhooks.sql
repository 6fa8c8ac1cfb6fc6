-- Webhook endpoints of a tenant, and the webhook outbox: one delivery per event
-- and endpoint, written in the transaction that writes the event. Every
-- attempt is kept.
create table webhook_endpoints (
    id text primary key,
    tenant_id text not null references tenants(id),
    url text not null,
    description text not null,
    -- A JSON array of event type names; [] receives every event.
    event_types text not null,
    enabled integer not null,
    ordered integer not null,
    secret text not null,
    previous_secret text,
    previous_secret_until text,
    disabled_reason text,
    failing_since text,
    created_at text not null,
    updated_at text not null
);
create index webhook_endpoints_tenant on webhook_endpoints (tenant_id, created_at);

create table webhook_deliveries (
    id integer primary key autoincrement,
    tenant_id text not null references tenants(id),
    endpoint_id text not null references webhook_endpoints(id) on delete cascade,
    event_id text not null references events(id),
    status text not null,
    attempts integer not null default 0,
    next_attempt_at text not null,
    lease_until text,
    last_status integer,
    last_error text,
    created_at text not null,
    updated_at text not null,
    delivered_at text,
    unique (endpoint_id, event_id)
);
create index webhook_deliveries_due on webhook_deliveries (status, next_attempt_at);
-- An ordered endpoint's deliveries go out one at a time: only its oldest
-- unfinished one is due.
create index webhook_deliveries_open on webhook_deliveries (endpoint_id, id)
    where status in ('pending', 'sending');
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, id);

create table webhook_attempts (
    id integer primary key autoincrement,
    delivery_id integer not null references webhook_deliveries(id) on delete cascade,
    attempted_at text not null,
    status_code integer,
    latency_ms integer not null,
    response text,
    error text
);
create index webhook_attempts_delivery on webhook_attempts (delivery_id, id);
