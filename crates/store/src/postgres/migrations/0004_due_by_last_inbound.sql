-- Due conversations, keyed by when their last message came in rather than by
-- id: ingest makes a conversation due and its run makes it not due, and with
-- the id as key both landed on a random page of the index, one more page for
-- every message's commit to write. Keyed by last_inbound_at they land at the
-- index's right edge, which the messages of one commit share; the sweep finds
-- them oldest first.
drop index conversations_due;
create index conversations_due on conversations (last_inbound_at)
    where state = 'bot' and inbound_seq > run_cursor;
