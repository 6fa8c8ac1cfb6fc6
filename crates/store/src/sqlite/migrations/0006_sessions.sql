-- Dashboard sessions. The cookie carries a random token; only its SHA-256 is
-- stored, so a copy of the database logs nobody in. A session is in one tenant
-- at a time (a user of several switches), and carries its CSRF token.
create table sessions (
    token_hash text primary key,
    user_id text not null references users(id),
    tenant_id text not null references tenants(id),
    csrf_token text not null,
    created_at text not null,
    last_seen_at text not null,
    expires_at text not null
);
create index sessions_user on sessions (user_id);
