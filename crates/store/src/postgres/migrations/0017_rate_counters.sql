-- Rate limits and login throttling, counted per key in fixed windows, so
-- that every replica counts against the same limit (see counters.rs).
create table rate_counters (
    key text not null,
    window_start timestamptz not null,
    count bigint not null,
    last_at timestamptz,
    primary key (key, window_start)
);
create index rate_counters_by_window on rate_counters (window_start);
