-- Where a citizen's location pin put a complaint (both or neither).
alter table complaints add column latitude double precision;
alter table complaints add column longitude double precision;
