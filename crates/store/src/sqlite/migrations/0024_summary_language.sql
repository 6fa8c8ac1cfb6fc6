-- A member's daily summary mail comes in the language they choose with it
-- (null: English).
alter table memberships add column summary_language text;
