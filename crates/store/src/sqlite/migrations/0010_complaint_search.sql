-- Free-text search without reading every complaint: a trigram index (FTS5)
-- over each complaint's number, description and location and its citizen's
-- number and name, as they were when it was made. A phrase of 3 or more
-- characters finds the complaints containing it anywhere, in any case.
-- (Description, location and contact do not change after creation.)
create virtual table complaint_search using fts5(
    complaint_id unindexed,
    body,
    tokenize = 'trigram'
);
insert into complaint_search (complaint_id, body)
    select c.id, c.number || ' ' || c.description || ' ' || coalesce(c.location, '') || ' '
                 || coalesce(ct.external_id, '') || ' ' || coalesce(ct.profile_name, '')
    from complaints c left join contacts ct on ct.id = c.contact_id;
create trigger complaint_search_add after insert on complaints begin
    insert into complaint_search (complaint_id, body)
        select new.id, new.number || ' ' || new.description || ' ' || coalesce(new.location, '') || ' '
                       || coalesce((select external_id || ' ' || coalesce(profile_name, '')
                                    from contacts where id = new.contact_id), '');
end;
