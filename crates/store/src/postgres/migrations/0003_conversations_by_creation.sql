-- Conversations are listed per tenant by creation. The old index on
-- (tenant_id, updated_at) served no query, and every message moved a
-- conversation's entry in it twice (its ingest and its run each set
-- updated_at): two index deletes and inserts per message on the hot path.
drop index conversations_tenant;
create index conversations_tenant on conversations (tenant_id, created_at);
