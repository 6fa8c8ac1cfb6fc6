-- Photos and voice notes citizens send (issue 27). The message carries a
-- summary of its media (`messages.media`, JSON: id, state, type, size) so
-- that reading a conversation needs no join; the attachment row is the
-- whole record, and names the stored object by its SHA-256.
alter table messages add column media text;
create table attachments (
    id text primary key,
    tenant_id text not null references tenants(id),
    message_id text not null unique references messages(id) on delete cascade,
    conversation_id text not null,
    channel_id text not null,
    complaint_id text references complaints(id) on delete set null,
    kind text not null,
    state text not null,
    -- What the provider said (its media id, type, checksum), JSON.
    provider_ref text not null,
    content_type text,
    sha256 text,
    size integer,
    seconds real,
    error text,
    created_at text not null,
    updated_at text not null
);
create index attachments_complaint on attachments (complaint_id)
    where complaint_id is not null;
create index attachments_object on attachments (tenant_id, sha256)
    where sha256 is not null;
