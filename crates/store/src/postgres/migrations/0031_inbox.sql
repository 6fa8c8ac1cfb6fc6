-- The inbox over every conversation. A conversation's assignee is the
-- member who took it over or first wrote into it (null: nobody; cleared
-- when it is handed back to the bot), for the "Mine" and "Unassigned"
-- filters; the inbox lists by the citizen's latest message.
alter table conversations add column assignee_id text references users(id);
create index conversations_by_activity on conversations (tenant_id, last_inbound_at);

-- How far each member has read each conversation (the citizen's messages
-- up to read_at), for unread marks and the count in the navigation.
create table conversation_reads (
    user_id text not null references users(id),
    conversation_id text not null references conversations(id),
    tenant_id text not null references tenants(id),
    read_at timestamptz not null,
    primary key (user_id, conversation_id)
);
create index conversation_reads_tenant on conversation_reads (tenant_id, user_id);
