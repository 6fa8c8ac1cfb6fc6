-- Ombud's first schema on PostgreSQL: the same tables as on SQLite, with native
-- timestamps and jsonb. Every tenant-owned row carries tenant_id.

create table tenants (
    id text primary key,
    slug text not null unique,
    name text not null,
    complaint_prefix text not null,
    default_language text not null,
    timezone text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table categories (
    id text primary key,
    tenant_id text not null references tenants(id),
    slug text not null,
    names jsonb not null,
    keywords jsonb not null,
    default_priority text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    unique (tenant_id, slug)
);

create table agents (
    id text primary key,
    tenant_id text not null references tenants(id),
    name text not null,
    kind text not null,
    created_at timestamptz not null,
    unique (tenant_id, name)
);

create table agent_versions (
    id text primary key,
    tenant_id text not null references tenants(id),
    agent_id text not null references agents(id),
    number bigint not null,
    config jsonb not null,
    changelog text not null,
    created_at timestamptz not null,
    unique (agent_id, number)
);

create table channels (
    id text primary key,
    tenant_id text not null references tenants(id),
    kind text not null,
    name text not null,
    phone_number_id text not null,
    app_secret text not null,
    verify_token text not null,
    access_token text not null,
    graph_url text not null,
    api_version text not null,
    deployed_version_id text references agent_versions(id),
    created_at timestamptz not null,
    updated_at timestamptz not null,
    unique (kind, phone_number_id)
);
create index channels_tenant on channels (tenant_id);

create table contacts (
    id text primary key,
    tenant_id text not null references tenants(id),
    channel_id text not null references channels(id),
    external_id text not null,
    profile_name text,
    language text,
    first_seen_at timestamptz not null,
    last_seen_at timestamptz not null,
    messages_in bigint not null default 0,
    messages_out bigint not null default 0,
    unique (channel_id, external_id)
);
create index contacts_tenant on contacts (tenant_id);

create table conversations (
    id text primary key,
    tenant_id text not null references tenants(id),
    channel_id text not null references channels(id),
    contact_id text not null references contacts(id),
    state text not null,
    inbound_seq bigint not null default 0,
    run_cursor bigint not null default 0,
    agent_state jsonb not null default '{}',
    last_inbound_at timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create unique index conversations_one_open_per_contact on conversations (contact_id)
    where state != 'closed';
create index conversations_tenant on conversations (tenant_id, updated_at);
create index conversations_due on conversations (id)
    where state = 'bot' and inbound_seq > run_cursor;

create table messages (
    id text primary key,
    tenant_id text not null references tenants(id),
    channel_id text not null references channels(id),
    conversation_id text not null references conversations(id),
    direction text not null,
    seq bigint not null,
    provider_id text,
    kind text not null,
    body text not null,
    in_reply_to text references messages(id),
    status text not null,
    error text,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create unique index messages_provider_id on messages (channel_id, provider_id)
    where provider_id is not null;
create index messages_conversation on messages (conversation_id, direction, seq);

create table complaint_counters (
    tenant_id text not null references tenants(id),
    day text not null,
    last bigint not null,
    primary key (tenant_id, day)
);

create table complaints (
    id text primary key,
    tenant_id text not null references tenants(id),
    number text not null,
    channel_id text references channels(id),
    contact_id text references contacts(id),
    conversation_id text references conversations(id),
    category_id text references categories(id),
    description text not null,
    location text,
    language text not null,
    priority text not null,
    status text not null,
    source text not null,
    origin_key text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    unique (tenant_id, number)
);
create unique index complaints_origin on complaints (tenant_id, origin_key)
    where origin_key is not null;
create index complaints_contact on complaints (tenant_id, contact_id, created_at);

create table complaint_events (
    id bigserial primary key,
    tenant_id text not null references tenants(id),
    complaint_id text not null references complaints(id),
    actor text not null,
    action text not null,
    from_value text,
    to_value text,
    created_at timestamptz not null
);
create index complaint_events_complaint on complaint_events (complaint_id, id);

create table executions (
    id text primary key,
    tenant_id text not null references tenants(id),
    conversation_id text not null references conversations(id),
    agent_version_id text references agent_versions(id),
    from_seq bigint not null,
    to_seq bigint not null,
    status text not null,
    output jsonb not null,
    error text,
    attempts bigint not null,
    started_at timestamptz not null,
    finished_at timestamptz not null
);
create index executions_conversation on executions (tenant_id, conversation_id, started_at);

-- Sends waiting for a channel, written in the same transaction as the reply.
create table outbox (
    id bigserial primary key,
    tenant_id text not null references tenants(id),
    channel_id text not null references channels(id),
    conversation_id text not null references conversations(id),
    message_id text not null unique references messages(id),
    status text not null,
    attempts bigint not null default 0,
    next_attempt_at timestamptz not null,
    lease_until timestamptz,
    last_error text,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create index outbox_due on outbox (status, next_attempt_at);
-- Sends of one conversation go out in order: only the oldest unfinished one is due.
create index outbox_conversation on outbox (conversation_id, id) where status in ('pending', 'sending');

-- Domain events for webhook delivery, written with the change they describe.
create table events (
    id text primary key,
    tenant_id text not null references tenants(id),
    type text not null,
    data jsonb not null,
    created_at timestamptz not null
);
create index events_tenant on events (tenant_id, created_at);

