-- Retention of messages themselves (a tenant's choice, off by default): up
-- to when a conversation's messages, their sends and the agent's runs on
-- them are gone. Visited again only once the conversation changed since.
alter table conversations add column forgotten_before text;
-- Deleting a message checks that no reply refers to it: without this index,
-- by reading every message of every tenant (measured: 176 ms a batch of 20
-- conversations in a table of 14,000 messages, instead of milliseconds).
create index messages_in_reply_to on messages (in_reply_to) where in_reply_to is not null;
