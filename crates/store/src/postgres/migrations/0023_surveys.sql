-- Satisfaction surveys and reply buttons: an inbound message keeps the id of
-- the button a citizen tapped (payload), an outbound one the buttons it
-- offers (choices, JSON); a conversation names the survey waiting for its
-- citizen's answer; each survey asks about one resolution of a complaint, at
-- most once; and a tenant keeps settings (the survey's, later others) as JSON
-- by key.
alter table messages add column payload text;
alter table messages add column choices text;
alter table conversations add column survey_id text;
create table surveys (
    id text primary key,
    tenant_id text not null references tenants(id),
    complaint_id text not null references complaints(id),
    conversation_id text not null references conversations(id),
    channel_id text not null references channels(id),
    resolved_at timestamptz not null,
    language text not null,
    stage text not null,
    rating bigint,
    solved boolean,
    comment text,
    reopened boolean not null default false,
    sent_at timestamptz not null,
    answered_at timestamptz,
    unique (tenant_id, complaint_id, resolved_at)
);
create index surveys_by_time on surveys (tenant_id, sent_at);
create table tenant_settings (
    tenant_id text not null references tenants(id),
    key text not null,
    value text not null,
    updated_at timestamptz not null,
    primary key (tenant_id, key)
);
