-- Invitations to a tenant's team: a link that works once until it expires,
-- with the role the inviter chose. Only the SHA-256 of the link's token is kept.
create table invitations (
    id text primary key,
    tenant_id text not null references tenants(id),
    email text not null,
    role text not null check (role in ('owner', 'admin', 'staff', 'viewer')),
    invited_by text not null references users(id),
    token_hash text not null unique,
    created_at text not null,
    expires_at text not null,
    accepted_at text
);
create index invitations_tenant on invitations (tenant_id, created_at);
