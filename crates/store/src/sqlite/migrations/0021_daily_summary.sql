-- A member's choice to get the daily summary of the tenant by email
-- (their account page; issue 23).
alter table memberships add column daily_summary integer not null default 0;
