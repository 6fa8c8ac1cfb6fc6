-- Webhook endpoints of a tenant, and the webhook outbox: one delivery per event
-- and endpoint, written in the transaction that writes the event. Every
-- attempt is kept.
create table webhook_endpoints (
    id text primary key,
    tenant_id text not null references tenants(id),
    url text not null,
    description text not null,
    -- A JSON array of event type names; [] receives every event.
    event_types jsonb not null,
    enabled boolean not null,
    ordered boolean not null,
    secret text not null,
    previous_secret text,
    previous_secret_until timestamptz,
    disabled_reason text,
    failing_since timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create index webhook_endpoints_tenant on webhook_endpoints (tenant_id, created_at);

create table webhook_deliveries (
    id bigserial primary key,
    tenant_id text not null references tenants(id),
    endpoint_id text not null references webhook_endpoints(id) on delete cascade,
    event_id text not null references events(id),
    status text not null,
    attempts bigint not null default 0,
    next_attempt_at timestamptz not null,
    lease_until timestamptz,
    last_status bigint,
    last_error text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    delivered_at timestamptz,
    unique (endpoint_id, event_id)
);
create index webhook_deliveries_due on webhook_deliveries (status, next_attempt_at);
-- An ordered endpoint's deliveries go out one at a time: only its oldest
-- unfinished one is due.
create index webhook_deliveries_open on webhook_deliveries (endpoint_id, id)
    where status in ('pending', 'sending');
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, id);

create table webhook_attempts (
    id bigserial primary key,
    delivery_id bigint not null references webhook_deliveries(id) on delete cascade,
    attempted_at timestamptz not null,
    status_code bigint,
    latency_ms bigint not null,
    response text,
    error text
);
create index webhook_attempts_delivery on webhook_attempts (delivery_id, id);
