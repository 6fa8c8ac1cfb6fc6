-- A reply's `in_reply_to` keeps no foreign key (as on SQLite): with one,
-- deleting a message made the database look for replies to it, which
-- needed an index that cost every reply an entry. Retention clears the
-- replies' `in_reply_to` in the same conversation before it deletes what
-- they answered.
alter table messages drop constraint if exists messages_in_reply_to_fkey;
drop index if exists messages_in_reply_to;
