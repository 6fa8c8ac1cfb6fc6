-- Stored media no longer named by the attachment that named it (retention
-- deleted its message, an erasure its person): the media.collect job
-- deletes each object once no attachment of the tenant names it.
create table media_garbage (
    tenant_id text not null,
    sha256 text not null,
    created_at text not null,
    primary key (tenant_id, sha256)
);
