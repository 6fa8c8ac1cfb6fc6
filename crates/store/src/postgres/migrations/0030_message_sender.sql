-- Who wrote an outbound message, for the transcript staff read: `bot` (the
-- agent's replies), `system` (Ombud's own notices: status, survey,
-- reminder), or a member or API key as the history names them
-- (`user:<id>`, `api:<id>`). Null for what citizens wrote, and for
-- messages stored before it was kept.
alter table messages add column sender text;
