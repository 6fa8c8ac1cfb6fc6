-- API keys of a tenant's own systems. The key is shown once; only its
-- SHA-256 is kept, with a short prefix people can recognise it by.
create table api_keys (
    id text primary key,
    tenant_id text not null references tenants(id),
    name text not null,
    prefix text not null,
    key_hash text not null unique,
    scopes jsonb not null,
    rate_limit_per_minute bigint not null,
    created_by text references users(id),
    created_at timestamptz not null,
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
);
create index api_keys_tenant on api_keys (tenant_id, created_at);
