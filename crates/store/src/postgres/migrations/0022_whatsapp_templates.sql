-- WhatsApp message templates: an outbound message may go as an approved
-- template (outside the 24-hour window), kept as JSON beside its text; what
-- Meta holds for each channel's business account, as last synced from the
-- Graph API and updated by its template status webhooks; and the timeline
-- lines of notices that could not be sent, found quickly for the banner.
alter table messages add column template text;
create table whatsapp_templates (
    tenant_id text not null references tenants(id),
    channel_id text not null references channels(id),
    name text not null,
    language text not null,
    status text not null,
    category text not null,
    body text,
    header text,
    named_params boolean not null default false,
    updated_at timestamptz not null,
    primary key (channel_id, name, language)
);
create index complaint_events_notify_failed on complaint_events (tenant_id, created_at)
    where action = 'notify_failed';
