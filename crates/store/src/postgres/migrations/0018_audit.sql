-- The audit trail: one hash chain per tenant (see ombud_core::audit).
create table audit_events (
    tenant_id text not null references tenants(id),
    seq bigint not null,
    id text not null unique,
    at timestamptz not null,
    actor_kind text not null,
    actor_id text,
    actor_name text,
    actor_email text,
    actor_prefix text,
    action text not null,
    target_kind text not null,
    target_id text not null,
    target_label text,
    changes text not null,
    address text,
    user_agent text,
    request_id text,
    bulk_id text,
    prev_hash text not null,
    hash text not null,
    primary key (tenant_id, seq)
);
create index audit_events_by_action on audit_events (tenant_id, action, seq);
create index audit_events_by_actor on audit_events (tenant_id, actor_id, seq);
create index audit_events_by_target on audit_events (tenant_id, target_id, seq);

-- Each chain's head, and where it starts (after retention cut it at a checkpoint).
create table audit_heads (
    tenant_id text primary key references tenants(id),
    seq bigint not null,
    hash text not null,
    start_seq bigint not null,
    start_hash text not null
);

-- Signed chain heads.
create table audit_checkpoints (
    tenant_id text not null references tenants(id),
    seq bigint not null,
    hash text not null,
    at timestamptz not null,
    key text not null,
    signature text not null,
    primary key (tenant_id, seq)
);
