-- Staff work on complaints: who is on it and which area it belongs to, and
-- the indexes the dashboard's list pages by (newest or oldest first, keyset on
-- created_at and id), alone or within one status or one assignee.
alter table complaints add column area text;
alter table complaints add column assignee_id text references users(id);
create index complaints_list on complaints (tenant_id, created_at, id);
create index complaints_by_status on complaints (tenant_id, status, created_at, id);
create index complaints_by_assignee on complaints (tenant_id, assignee_id, created_at, id);
