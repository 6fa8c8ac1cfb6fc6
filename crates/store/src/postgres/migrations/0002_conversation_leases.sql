-- A conversation is run by one replica at a time: the one holding its lease.
alter table conversations add column lease_owner text;
alter table conversations add column lease_until timestamptz;
