-- The test panel: conversations with any agent version that no channel sees.
-- A chat keeps the agent's memory between turns and the complaints its tools
-- made, which are test complaints: they live here, numbered TEST-…, and never
-- in the complaints table, its numbering, its reports or its events.

create table test_chats (
    id text primary key,
    tenant_id text not null references tenants(id),
    agent_id text not null references agents(id),
    agent_version_id text not null references agent_versions(id),
    contact_id text not null,
    conversation_id text not null,
    created_by text not null,
    agent_state text not null default '{}',
    language text,
    handed_off integer not null default 0,
    complaints text not null default '[]',
    turns integer not null default 0,
    created_at text not null,
    updated_at text not null
);
create index test_chats_agent on test_chats (tenant_id, agent_id, created_at);

create table test_turns (
    tenant_id text not null references tenants(id),
    test_chat_id text not null references test_chats(id),
    seq integer not null,
    said text not null,
    replies text not null,
    tool_calls text not null,
    handoff integer not null,
    status text not null,
    error text,
    latency_ms integer not null,
    tokens_in integer,
    tokens_out integer,
    created_at text not null,
    primary key (test_chat_id, seq)
);
