-- Rate limits and login throttling: one SQLite file has one server, which
-- keeps these counters in memory (counters.rs); PostgreSQL's 0017 makes a
-- table for them, shared by its replicas. Nothing to change here; the
-- number keeps both backends' migrations in step.
select 1;
