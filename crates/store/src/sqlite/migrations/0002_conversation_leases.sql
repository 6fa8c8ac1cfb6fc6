-- A conversation is run by one process at a time: the one holding its lease.
alter table conversations add column lease_owner text;
alter table conversations add column lease_until text;
