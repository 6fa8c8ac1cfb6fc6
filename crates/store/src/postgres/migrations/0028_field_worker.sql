-- Field verification: a member may be a field worker, who sees only the
-- complaints assigned to them.
alter table memberships drop constraint memberships_role_check,
    add constraint memberships_role_check
    check (role in ('owner', 'admin', 'staff', 'viewer', 'field_worker'));
alter table invitations drop constraint invitations_role_check,
    add constraint invitations_role_check
    check (role in ('owner', 'admin', 'staff', 'viewer', 'field_worker'));
