-- Scheduled work (see ombud_core::schedule and the engine's scheduler): one
-- row per job, claimed with a lease; a recurring job keeps its row and moves
-- its due time on.
create table jobs (
    id text primary key,
    kind text not null,
    -- One job per key: scheduling a key again changes nothing.
    key text not null unique,
    -- The tenant the work is for; none for the operator's own (backups).
    tenant_id text references tenants(id),
    payload jsonb not null,
    -- A recurring job's cron schedule and the zone it is read in.
    schedule text,
    timezone text,
    due_at timestamptz not null,
    -- Attempts of the current run (counted at each claim, so that a run that
    -- crashes its process still uses one up).
    attempts bigint not null default 0,
    max_attempts bigint not null,
    state text not null default 'due' check (state in ('due', 'done', 'failed')),
    leased_by text,
    lease_until timestamptz,
    last_error text,
    last_run_at timestamptz,
    runs bigint not null default 0,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create index jobs_due on jobs (due_at) where state = 'due';
