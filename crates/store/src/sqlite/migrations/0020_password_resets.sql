-- "Forgot password": a link mailed to the account, which works once, for an
-- hour. Only the SHA-256 of the link's token is kept; the mail is a job
-- (kind mail.send) made in the same transaction.
create table password_resets (
    id text primary key,
    user_id text not null references users(id),
    token_hash text not null unique,
    created_at text not null,
    expires_at text not null,
    used_at text
);
create index password_resets_user on password_resets (user_id, created_at);
