-- Service levels: each complaint's clock (its policy and deadlines, JSON as
-- ombud_core::sla::SlaClock writes it; null when no policy covers it), and
-- two values read from it for lists and filters: where it stands (on_track,
-- due_soon, breached) and its next running deadline.
alter table complaints add column sla text;
alter table complaints add column sla_state text;
alter table complaints add column sla_due_at timestamptz;
create index complaints_by_sla on complaints (tenant_id, sla_state, sla_due_at);
