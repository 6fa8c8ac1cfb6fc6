-- Conversation sessions. A conversation's session ends after a quiet
-- spell (the tenant's session_idle_hours since the last message a person
-- wrote: the citizen, or a member) or when staff close it; the next message
-- the citizen sends starts the next one. Every message carries the session
-- it belongs to, so the history reads session by session; the agent's
-- memory (agent_state) belongs to agent_session, and a run that reads the
-- first messages of a later session starts the agent afresh.
alter table conversations add column session bigint not null default 1;
alter table conversations add column agent_session bigint not null default 1;
alter table conversations add column active_at timestamptz;
alter table conversations add column session_closed_at timestamptz;
update conversations set active_at = last_inbound_at;
alter table messages add column session bigint not null default 1;
