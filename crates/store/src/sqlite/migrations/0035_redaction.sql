-- Retention of message bodies (a tenant's choice, off by default): up to
-- when a conversation's words are gone. The sweep visits a conversation
-- again only once it changed since (updated_at, which every message moves).
alter table conversations add column redacted_before text;
