-- Staff accounts: users (a login each, by email) and their role in each tenant
-- they belong to.
create table users (
    id text primary key,
    email text not null unique,
    name text not null,
    password_hash text not null,
    must_change_password boolean not null default false,
    platform_admin boolean not null default false,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table memberships (
    tenant_id text not null references tenants(id),
    user_id text not null references users(id),
    role text not null check (role in ('owner', 'admin', 'staff', 'viewer')),
    created_at timestamptz not null,
    primary key (tenant_id, user_id)
);
create index memberships_user on memberships (user_id);
