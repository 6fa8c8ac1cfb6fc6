-- Field verification: a member may be a field worker, who sees only the
-- complaints assigned to them. SQLite cannot change a check constraint in
-- place, so the two tables that hold a role are copied into new ones.
create table memberships_next (
    tenant_id text not null references tenants(id),
    user_id text not null references users(id),
    role text not null check (role in ('owner', 'admin', 'staff', 'viewer', 'field_worker')),
    created_at text not null,
    daily_summary integer not null default 0,
    summary_language text,
    primary key (tenant_id, user_id)
);
insert into memberships_next (tenant_id, user_id, role, created_at, daily_summary, summary_language)
    select tenant_id, user_id, role, created_at, daily_summary, summary_language from memberships;
drop table memberships;
alter table memberships_next rename to memberships;
create index memberships_user on memberships (user_id);

create table invitations_next (
    id text primary key,
    tenant_id text not null references tenants(id),
    email text not null,
    role text not null check (role in ('owner', 'admin', 'staff', 'viewer', 'field_worker')),
    invited_by text not null references users(id),
    token_hash text not null unique,
    created_at text not null,
    expires_at text not null,
    accepted_at text
);
insert into invitations_next (id, tenant_id, email, role, invited_by, token_hash, created_at, expires_at, accepted_at)
    select id, tenant_id, email, role, invited_by, token_hash, created_at, expires_at, accepted_at from invitations;
drop table invitations;
alter table invitations_next rename to invitations;
create index invitations_tenant on invitations (tenant_id, created_at);
