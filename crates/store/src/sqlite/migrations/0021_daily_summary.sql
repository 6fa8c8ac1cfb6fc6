-- A member's choice to get the tenant's daily summary by email (their
-- account page).
alter table memberships add column daily_summary integer not null default 0;
