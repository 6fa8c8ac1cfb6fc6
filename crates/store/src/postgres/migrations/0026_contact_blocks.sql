-- Temporary blocks: staff pause the channel for a contact until a time,
-- with a reason; the bot tells them once (block_told) and says nothing else
-- until it ends.
alter table contacts add column blocked_until timestamptz;
alter table contacts add column block_reason text;
alter table contacts add column block_told boolean not null default false;
