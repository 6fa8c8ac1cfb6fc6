-- A reply's `in_reply_to` keeps no foreign key. With one, deleting a
-- message (messages retention) had SQLite look for replies to it, which
-- needed the index of 0036, and that index cost every reply an entry
-- (measured: 2.2 % more work per message, for a retention that is off by
-- default). Retention clears the replies' `in_reply_to` in the same
-- conversation before it deletes what they answered.
--
-- Taking a foreign key out changes only the table's text in the schema,
-- not a byte of its rows (SQLite's "ALTER TABLE", the writable_schema
-- way); the migration runner moves the schema version after it, so every
-- connection reads the new text.
pragma writable_schema = on;
update sqlite_schema
   set sql = replace(sql, 'in_reply_to text references messages(id)', 'in_reply_to text')
 where type = 'table' and name = 'messages';
pragma writable_schema = off;
drop index messages_in_reply_to;
