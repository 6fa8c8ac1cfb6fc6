-- SQLite's migration 10 adds a trigram index for free-text search. PostgreSQL
-- searches by scanning for now (pg_trgm would serve it); this keeps the two
-- schemas' version numbers in step.
select 1;
