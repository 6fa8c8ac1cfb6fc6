-- Staff accounts: users (a login each, by email) and their role in each tenant
-- they belong to. Flags are 0 or 1.
create table users (
    id text primary key,
    email text not null unique,
    name text not null,
    password_hash text not null,
    must_change_password integer not null default 0,
    platform_admin integer not null default 0,
    created_at text not null,
    updated_at text not null
);

create table memberships (
    tenant_id text not null references tenants(id),
    user_id text not null references users(id),
    role text not null check (role in ('owner', 'admin', 'staff', 'viewer')),
    created_at text not null,
    primary key (tenant_id, user_id)
);
create index memberships_user on memberships (user_id);
