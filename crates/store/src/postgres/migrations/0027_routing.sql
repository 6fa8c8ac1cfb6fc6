-- Assignment rules: a complaint sent to a team keeps the team's slug (or
-- `area:{slug}` for an area's field staff); without an assignee it waits in
-- that team's queue, oldest first, until a member has room.
alter table complaints add column team text;
create index complaints_team_queue on complaints (tenant_id, team, created_at)
    where team is not null and assignee_id is null;
-- Round-robin takes the member whose last assignment is oldest (by the
-- history line's id: the order the assignments were written in).
create index complaint_events_assigned on complaint_events (tenant_id, to_value, id)
    where action = 'assigned';
