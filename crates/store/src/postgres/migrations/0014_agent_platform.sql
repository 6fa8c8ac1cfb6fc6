-- The agent platform: who saved a version, every deployment of a version to a
-- channel (the channel row keeps the active one), and executions that say what
-- a run did: the messages it answered, its tool calls and the tokens it used.

alter table agent_versions add column author text not null default 'system';

create table deployments (
    id bigserial primary key,
    tenant_id text not null references tenants(id),
    channel_id text not null references channels(id),
    agent_version_id text not null references agent_versions(id),
    previous_version_id text references agent_versions(id),
    actor text not null,
    created_at timestamptz not null
);
create index deployments_channel on deployments (tenant_id, channel_id, id);

alter table executions add column agent_id text references agents(id);
alter table executions add column input_ids jsonb not null default '[]';
alter table executions add column tool_calls jsonb not null default '[]';
alter table executions add column tokens_in bigint;
alter table executions add column tokens_out bigint;
update executions e set agent_id = v.agent_id from agent_versions v where v.id = e.agent_version_id;
create index executions_agent on executions (tenant_id, agent_id, started_at);
