-- A new tenant's first-run guide: which steps an admin has done (or skipped),
-- so the guide resumes where they left it.
create table onboarding_steps (
    tenant_id text not null references tenants(id),
    step text not null,
    done_at text not null,
    primary key (tenant_id, step)
);
