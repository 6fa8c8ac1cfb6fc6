-- Retention of messages themselves (a tenant's choice, off by default): up
-- to when a conversation's messages, their sends and the agent's runs on
-- them are gone. Visited again only once the conversation changed since.
alter table conversations add column forgotten_before timestamptz;
