-- Answers to POSTs made with an Idempotency-Key, per caller, kept a day: the
-- same key with the same request gets the same answer again. A row without
-- a status is a request still running.
create table idempotency_keys (
    tenant_id text not null references tenants(id),
    caller text not null,
    key text not null,
    request_hash text not null,
    status integer,
    headers text,
    body text,
    created_at text not null,
    primary key (tenant_id, caller, key)
);
create index idempotency_keys_age on idempotency_keys (created_at);
