-- A voice note's transcript, with the model that made it and the language
-- it heard (issue 27).
alter table attachments add column transcript text;
alter table attachments add column transcript_language text;
alter table attachments add column transcript_model text;
