-- Where a citizen's location pin put a complaint (both or neither).
alter table complaints add column latitude real;
alter table complaints add column longitude real;
