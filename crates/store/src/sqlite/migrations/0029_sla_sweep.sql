-- Service levels: when the scheduler's minutely sweep next has a warning or
-- breach to tell staff about on each complaint (ombud_core::sla::next_alert,
-- written with its clock; null when nothing is to come). It replaces the two
-- check jobs every complaint used to make: those still waiting keep running.
alter table complaints add column sla_next_at text;
create index complaints_by_sla_next on complaints (sla_next_at, id) where sla_next_at is not null;
