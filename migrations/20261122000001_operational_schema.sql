-- Operational and platform schema of OpsFlux: identity and access, sites, third parties, projects, resource booking,
-- personnel on board, logistics, management of change, 5S housekeeping, electrical load balance, HSE and document authoring.
-- Conventions: uuid primary key first; trailer external_id, created_at, updated_at, created_by, updated_by, deleted_at, deleted_by last;
-- states are CHECK-constrained text, never enum types.

-- platform: users, roles and permissions, site scopes, audit log, report schedules and background jobs.
CREATE SCHEMA platform;

CREATE TABLE platform.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL UNIQUE,
    display_name text NOT NULL,
    password_hash text,
    locale text NOT NULL DEFAULT 'fr-FR' CHECK (locale IN ('fr-FR', 'en-GB', 'en-US')),
    is_active boolean NOT NULL DEFAULT true,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE platform.users IS 'Platform user accounts that authenticate to OpsFlux.';

CREATE TABLE platform.roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    description text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE platform.roles IS 'Named roles that bundle permissions and are granted to users.';

CREATE TABLE platform.permissions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$'),
    description text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE platform.permissions IS 'Atomic permissions coded as module.action.scope.';

CREATE TABLE platform.role_permissions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    role_id uuid NOT NULL REFERENCES platform.roles(id),
    permission_id uuid NOT NULL REFERENCES platform.permissions(id),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (role_id, permission_id)
);
COMMENT ON TABLE platform.role_permissions IS 'Link table assigning permissions to roles.';

CREATE TABLE platform.role_grants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES platform.users(id),
    role_id uuid NOT NULL REFERENCES platform.roles(id),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (user_id, role_id)
);
COMMENT ON TABLE platform.role_grants IS 'Link table granting roles to users.';

-- core: operating sites (offshore platforms, FPSOs, onshore bases, drilling rigs) shared by every module.
CREATE SCHEMA core;

CREATE TABLE core.sites (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('offshore_platform', 'fpso', 'onshore_base', 'drilling_rig')),
    region text NOT NULL,
    latitude double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    bed_capacity integer NOT NULL CHECK (bed_capacity >= 0),
    timezone text NOT NULL DEFAULT 'Africa/Lagos',
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE core.sites IS 'Operating sites such as offshore platforms, FPSOs, onshore bases and drilling rigs.';

-- platform: (continued) tables that depend on core.sites or are independent of it: site scopes, audit log, schedules, jobs.

CREATE TABLE platform.user_site_scopes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES platform.users(id),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (user_id, site_id)
);
COMMENT ON TABLE platform.user_site_scopes IS 'Link table restricting the sites a user may access.';

CREATE TABLE platform.audit_log (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    occurred_at timestamptz NOT NULL,
    actor_id uuid REFERENCES platform.users(id),
    action text NOT NULL,
    entity_schema text NOT NULL,
    entity_table text NOT NULL,
    entity_id uuid,
    before jsonb,
    after jsonb,
    request_id text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE platform.audit_log IS 'Append-only log of data changes with before and after images.';
CREATE INDEX audit_log_entity_schema_entity_table_entity_id_idx ON platform.audit_log (entity_schema, entity_table, entity_id);
CREATE INDEX audit_log_occurred_at_idx ON platform.audit_log (occurred_at);

CREATE TABLE platform.schedules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    template_code text NOT NULL,
    parameters jsonb NOT NULL DEFAULT '{}'::jsonb,
    cron text NOT NULL,
    timezone text NOT NULL DEFAULT 'Europe/Paris',
    output_format text NOT NULL CHECK (output_format IN ('pdf', 'docx', 'xlsx', 'html')),
    recipients text[] NOT NULL DEFAULT '{}'::text[],
    is_enabled boolean NOT NULL DEFAULT true,
    last_run_at timestamptz,
    next_run_at timestamptz,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE platform.schedules IS 'Recurring report generation schedules with their template, format and recipients.';

CREATE TABLE platform.jobs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind text NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    schedule_id uuid REFERENCES platform.schedules(id),
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    queued_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    error text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (finished_at >= started_at)
);
COMMENT ON TABLE platform.jobs IS 'Background jobs queued by users or schedules and their execution status.';
CREATE INDEX jobs_status_queued_at_idx ON platform.jobs (status, queued_at);

-- tiers: third-party companies, their contacts and external user accounts.
CREATE SCHEMA tiers;

CREATE TABLE tiers.companies (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('client', 'supplier', 'partner', 'subcontractor')),
    registration_number text,
    country text NOT NULL,
    city text NOT NULL,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE tiers.companies IS 'Third-party companies such as clients, suppliers, partners and subcontractors.';

CREATE TABLE tiers.contacts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES tiers.companies(id),
    first_name text NOT NULL,
    last_name text NOT NULL,
    email text,
    phone text,
    job_title text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE tiers.contacts IS 'Contact persons working for third-party companies.';

CREATE TABLE tiers.external_users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES tiers.companies(id),
    contact_id uuid REFERENCES tiers.contacts(id),
    email text NOT NULL UNIQUE,
    access_expires_at timestamptz,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE tiers.external_users IS 'Accounts granting third-party contacts time-limited access to the platform.';

-- projects: projects, tasks, milestones and monthly budget lines.
CREATE SCHEMA projects;

CREATE TABLE projects.projects (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    site_id uuid NOT NULL REFERENCES core.sites(id),
    manager_id uuid REFERENCES platform.users(id),
    status text NOT NULL CHECK (status IN ('planned', 'active', 'on_hold', 'completed', 'cancelled')),
    start_date date NOT NULL,
    planned_end_date date NOT NULL,
    actual_end_date date,
    budget_planned numeric(14,2) NOT NULL CHECK (budget_planned >= 0),
    currency text NOT NULL DEFAULT 'EUR',
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (planned_end_date >= start_date),
    CHECK (actual_end_date >= start_date)
);
COMMENT ON TABLE projects.projects IS 'Projects run on a site with their schedule, budget and status.';

CREATE TABLE projects.tasks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES projects.projects(id),
    parent_task_id uuid REFERENCES projects.tasks(id),
    name text NOT NULL,
    status text NOT NULL CHECK (status IN ('todo', 'in_progress', 'blocked', 'done', 'cancelled')),
    assignee_id uuid REFERENCES platform.users(id),
    start_date date NOT NULL,
    due_date date NOT NULL,
    completed_at timestamptz,
    percent_complete smallint NOT NULL CHECK (percent_complete BETWEEN 0 AND 100),
    estimated_hours numeric(8,1) CHECK (estimated_hours >= 0),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (due_date >= start_date)
);
COMMENT ON TABLE projects.tasks IS 'Project tasks, possibly nested, with assignee, dates and progress.';
CREATE INDEX tasks_project_id_status_due_date_idx ON projects.tasks (project_id, status, due_date);

CREATE TABLE projects.milestones (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES projects.projects(id),
    name text NOT NULL,
    due_date date NOT NULL,
    achieved_at timestamptz,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE projects.milestones IS 'Project milestones with their due date and achievement time.';

CREATE TABLE projects.budget_lines (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES projects.projects(id),
    category text NOT NULL CHECK (category IN ('labour', 'equipment', 'materials', 'services', 'logistics', 'other')),
    period_month date NOT NULL CHECK (extract(day FROM period_month) = 1),
    planned_amount numeric(14,2) NOT NULL CHECK (planned_amount >= 0),
    actual_amount numeric(14,2) NOT NULL CHECK (actual_amount >= 0),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (project_id, category, period_month)
);
COMMENT ON TABLE projects.budget_lines IS 'Monthly planned and actual project spend per cost category.';

-- organizer: bookable site resources (equipment, vehicles, rooms, tools) and their reservations.
CREATE SCHEMA organizer;

CREATE TABLE organizer.resources (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    kind text NOT NULL CHECK (kind IN ('equipment', 'vehicle', 'room', 'tool')),
    code text NOT NULL,
    name text NOT NULL,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (site_id, code)
);
COMMENT ON TABLE organizer.resources IS 'Bookable resources on a site such as equipment, vehicles, rooms and tools.';

CREATE TABLE organizer.reservations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    resource_id uuid NOT NULL REFERENCES organizer.resources(id),
    reserved_by uuid REFERENCES platform.users(id),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('requested', 'confirmed', 'cancelled', 'completed')),
    purpose text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (ends_at > starts_at)
);
COMMENT ON TABLE organizer.reservations IS 'Time-slot reservations of site resources.';
CREATE INDEX reservations_resource_id_starts_at_idx ON organizer.reservations (resource_id, starts_at);

-- pob: personnel on board: personnel, rotations, site stays and their approval chain.
CREATE SCHEMA pob;

CREATE TABLE pob.personnel (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES tiers.companies(id),
    first_name text NOT NULL,
    last_name text NOT NULL,
    badge_number text NOT NULL UNIQUE,
    job_title text NOT NULL,
    nationality text NOT NULL,
    rotation_pattern text NOT NULL CHECK (rotation_pattern IN ('14/14', '21/21', '28/28', 'day')),
    home_site_id uuid REFERENCES core.sites(id),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE pob.personnel IS 'Personnel, employees or contractors, who may stay on sites.';

CREATE TABLE pob.rotations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    personnel_id uuid NOT NULL REFERENCES pob.personnel(id),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    pattern text NOT NULL CHECK (pattern IN ('14/14', '21/21', '28/28')),
    on_days smallint NOT NULL CHECK (on_days > 0),
    off_days smallint NOT NULL CHECK (off_days >= 0),
    cycle_start_date date NOT NULL,
    ends_on date,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (ends_on >= cycle_start_date)
);
COMMENT ON TABLE pob.rotations IS 'Work rotation cycles of personnel on a site.';

CREATE TABLE pob.stays (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    personnel_id uuid NOT NULL REFERENCES pob.personnel(id),
    rotation_id uuid REFERENCES pob.rotations(id),
    status text NOT NULL CHECK (status IN ('draft', 'pending', 'in_validation', 'approved', 'rejected', 'cancelled', 'completed')),
    arrival_date date NOT NULL,
    departure_date date NOT NULL,
    purpose text NOT NULL,
    requested_by uuid REFERENCES platform.users(id),
    requested_at timestamptz NOT NULL,
    submitted_at timestamptz,
    approved_at timestamptz,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (departure_date >= arrival_date)
);
COMMENT ON TABLE pob.stays IS 'Stays of personnel on a site, from request through approval to completion.';
CREATE INDEX stays_site_id_arrival_date_departure_date_idx ON pob.stays (site_id, arrival_date, departure_date);
CREATE INDEX stays_personnel_id_idx ON pob.stays (personnel_id);

CREATE TABLE pob.stay_approvals (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    stay_id uuid NOT NULL REFERENCES pob.stays(id),
    level smallint NOT NULL CHECK (level >= 1),
    approver_id uuid REFERENCES platform.users(id),
    decision text NOT NULL CHECK (decision IN ('pending', 'approved', 'rejected')),
    decided_at timestamptz,
    comment text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (stay_id, level)
);
COMMENT ON TABLE pob.stay_approvals IS 'Multi-level approval decisions on site stays.';

-- travel: transport of people and cargo: vehicles, trips, legs, bookings, manifests and fuel.
CREATE SCHEMA travel;

CREATE TABLE travel.vehicles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind text NOT NULL CHECK (kind IN ('vessel', 'helicopter', 'vehicle')),
    name text NOT NULL,
    registration text NOT NULL UNIQUE,
    operator_company_id uuid REFERENCES tiers.companies(id),
    seat_capacity integer NOT NULL CHECK (seat_capacity >= 0),
    max_payload_kg numeric(10,1) NOT NULL CHECK (max_payload_kg >= 0),
    cruise_speed_kn numeric(6,1) CHECK (cruise_speed_kn > 0),
    home_site_id uuid REFERENCES core.sites(id),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE travel.vehicles IS 'Transport vehicles such as vessels, helicopters and road vehicles.';

CREATE TABLE travel.trips (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    vehicle_id uuid NOT NULL REFERENCES travel.vehicles(id),
    trip_number text NOT NULL UNIQUE,
    status text NOT NULL CHECK (status IN ('planned', 'in_progress', 'completed', 'cancelled')),
    departure_site_id uuid NOT NULL REFERENCES core.sites(id),
    arrival_site_id uuid NOT NULL REFERENCES core.sites(id),
    scheduled_departure_at timestamptz NOT NULL,
    actual_departure_at timestamptz,
    actual_arrival_at timestamptz,
    distance_nm numeric(8,1) CHECK (distance_nm >= 0),
    flight_hours numeric(6,2) CHECK (flight_hours >= 0),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (actual_arrival_at >= actual_departure_at)
);
COMMENT ON TABLE travel.trips IS 'Scheduled trips of a vehicle between two sites.';
CREATE INDEX trips_scheduled_departure_at_idx ON travel.trips (scheduled_departure_at);
CREATE INDEX trips_vehicle_id_idx ON travel.trips (vehicle_id);

CREATE TABLE travel.trip_legs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trip_id uuid NOT NULL REFERENCES travel.trips(id),
    leg_number smallint NOT NULL CHECK (leg_number >= 1),
    from_site_id uuid NOT NULL REFERENCES core.sites(id),
    to_site_id uuid NOT NULL REFERENCES core.sites(id),
    departs_at timestamptz NOT NULL,
    arrives_at timestamptz NOT NULL,
    distance_nm numeric(8,1) CHECK (distance_nm >= 0),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (arrives_at >= departs_at),
    UNIQUE (trip_id, leg_number)
);
COMMENT ON TABLE travel.trip_legs IS 'Individual legs of a trip between two sites.';

CREATE TABLE travel.bookings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trip_id uuid NOT NULL REFERENCES travel.trips(id),
    personnel_id uuid NOT NULL REFERENCES pob.personnel(id),
    stay_id uuid REFERENCES pob.stays(id),
    status text NOT NULL CHECK (status IN ('requested', 'confirmed', 'in_progress', 'completed', 'cancelled')),
    booked_at timestamptz NOT NULL,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE travel.bookings IS 'Seat bookings of personnel on trips, optionally tied to a stay.';
CREATE INDEX bookings_trip_id_idx ON travel.bookings (trip_id);

CREATE TABLE travel.manifest_passengers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trip_leg_id uuid NOT NULL REFERENCES travel.trip_legs(id),
    booking_id uuid REFERENCES travel.bookings(id),
    personnel_id uuid NOT NULL REFERENCES pob.personnel(id),
    body_weight_kg numeric(5,1) NOT NULL CHECK (body_weight_kg > 0),
    baggage_kg numeric(5,1) NOT NULL CHECK (baggage_kg >= 0),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (trip_leg_id, personnel_id)
);
COMMENT ON TABLE travel.manifest_passengers IS 'Passengers on a trip leg manifest with body and baggage weights.';

CREATE TABLE travel.manifest_cargo (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trip_leg_id uuid NOT NULL REFERENCES travel.trip_legs(id),
    description text NOT NULL,
    weight_kg numeric(10,1) NOT NULL CHECK (weight_kg > 0),
    is_dangerous_goods boolean NOT NULL DEFAULT false,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE travel.manifest_cargo IS 'Cargo items on a trip leg manifest, flagged when dangerous goods.';

CREATE TABLE travel.fuel_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trip_id uuid REFERENCES travel.trips(id),
    vehicle_id uuid NOT NULL REFERENCES travel.vehicles(id),
    logged_at timestamptz NOT NULL,
    quantity_l numeric(10,1) NOT NULL CHECK (quantity_l > 0),
    fuel_type text NOT NULL CHECK (fuel_type IN ('jet_a1', 'marine_gasoil', 'diesel')),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE travel.fuel_logs IS 'Fuel uplifts of vehicles, optionally attributed to a trip.';

-- moc: management of change: requests, impact assessments, approval steps and status history.
CREATE SCHEMA moc;

CREATE TABLE moc.requests (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reference text NOT NULL UNIQUE,
    site_id uuid NOT NULL REFERENCES core.sites(id),
    title text NOT NULL,
    description text NOT NULL,
    category text NOT NULL CHECK (category IN ('process', 'equipment', 'organisation', 'procedure', 'software', 'temporary')),
    risk_level text NOT NULL CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    status text NOT NULL CHECK (status IN ('submitted', 'in_evaluation', 'in_validation', 'approved', 'rejected', 'in_implementation', 'implemented', 'closed')),
    requested_by uuid REFERENCES platform.users(id),
    submitted_at timestamptz NOT NULL,
    evaluation_started_at timestamptz,
    validation_started_at timestamptz,
    approved_at timestamptz,
    rejected_at timestamptz,
    implementation_started_at timestamptz,
    implemented_at timestamptz,
    closed_at timestamptz,
    due_date date,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE moc.requests IS 'Management of change requests with their lifecycle timestamps.';
CREATE INDEX requests_site_id_status_idx ON moc.requests (site_id, status);
CREATE INDEX requests_submitted_at_idx ON moc.requests (submitted_at);

CREATE TABLE moc.impact_assessments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id uuid NOT NULL REFERENCES moc.requests(id),
    domain text NOT NULL CHECK (domain IN ('safety', 'environment', 'operations', 'cost', 'regulatory')),
    severity smallint NOT NULL CHECK (severity BETWEEN 1 AND 5),
    notes text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (request_id, domain)
);
COMMENT ON TABLE moc.impact_assessments IS 'Impact severity of a change request per assessment domain.';

CREATE TABLE moc.approvals (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id uuid NOT NULL REFERENCES moc.requests(id),
    step smallint NOT NULL CHECK (step >= 1),
    role_code text NOT NULL,
    approver_id uuid REFERENCES platform.users(id),
    decision text NOT NULL CHECK (decision IN ('pending', 'approved', 'rejected')),
    requested_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    decided_at timestamptz,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (request_id, step)
);
COMMENT ON TABLE moc.approvals IS 'Ordered approval steps of a change request and their decisions.';

CREATE TABLE moc.state_transitions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id uuid NOT NULL REFERENCES moc.requests(id),
    from_status text CHECK (from_status IN ('submitted', 'in_evaluation', 'in_validation', 'approved', 'rejected', 'in_implementation', 'implemented', 'closed')),
    to_status text NOT NULL CHECK (to_status IN ('submitted', 'in_evaluation', 'in_validation', 'approved', 'rejected', 'in_implementation', 'implemented', 'closed')),
    transitioned_at timestamptz NOT NULL,
    actor_id uuid REFERENCES platform.users(id),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE moc.state_transitions IS 'History of status transitions of change requests.';
CREATE INDEX state_transitions_request_id_transitioned_at_idx ON moc.state_transitions (request_id, transitioned_at);

-- cleanvue: 5S housekeeping: zones, audits and criterion scores, scrapping requests and returns between sites.
CREATE SCHEMA cleanvue;

CREATE TABLE cleanvue.zones (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    code text NOT NULL,
    name text NOT NULL,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (site_id, code)
);
COMMENT ON TABLE cleanvue.zones IS 'Housekeeping zones of a site subject to 5S audits.';

CREATE TABLE cleanvue.audits (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    zone_id uuid NOT NULL REFERENCES cleanvue.zones(id),
    auditor_id uuid REFERENCES platform.users(id),
    audited_at timestamptz NOT NULL,
    total_score numeric(5,2) NOT NULL CHECK (total_score BETWEEN 0 AND 100),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE cleanvue.audits IS '5S audits of a zone with their total score.';
CREATE INDEX audits_zone_id_audited_at_idx ON cleanvue.audits (zone_id, audited_at);

CREATE TABLE cleanvue.audit_scores (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    audit_id uuid NOT NULL REFERENCES cleanvue.audits(id),
    criterion text NOT NULL CHECK (criterion IN ('seiri', 'seiton', 'seiso', 'seiketsu', 'shitsuke')),
    score smallint NOT NULL CHECK (score BETWEEN 0 AND 20),
    comment text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (audit_id, criterion)
);
COMMENT ON TABLE cleanvue.audit_scores IS 'Per-criterion scores of a 5S audit.';

CREATE TABLE cleanvue.scrapping_requests (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    zone_id uuid REFERENCES cleanvue.zones(id),
    description text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    volume_m3 numeric(8,2) NOT NULL CHECK (volume_m3 >= 0),
    weight_kg numeric(10,1) NOT NULL CHECK (weight_kg >= 0),
    status text NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'completed')),
    requested_at timestamptz NOT NULL,
    completed_at timestamptz,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE cleanvue.scrapping_requests IS 'Requests to scrap unused material found on a site.';

CREATE TABLE cleanvue.site_returns (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    destination_site_id uuid NOT NULL REFERENCES core.sites(id),
    description text NOT NULL,
    weight_kg numeric(10,1) NOT NULL CHECK (weight_kg >= 0),
    returned_at timestamptz NOT NULL,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE cleanvue.site_returns IS 'Material returned from a site to another destination site.';

-- powertrace: electrical network and load balance: switchboards, generators, transformers, consumers, meters and scenarios.
CREATE SCHEMA powertrace;

CREATE TABLE powertrace.switchboards (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    parent_switchboard_id uuid REFERENCES powertrace.switchboards(id),
    code text NOT NULL,
    name text NOT NULL,
    voltage_v integer NOT NULL CHECK (voltage_v > 0),
    rated_current_a integer CHECK (rated_current_a > 0),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (site_id, code)
);
COMMENT ON TABLE powertrace.switchboards IS 'Electrical switchboards of a site, arranged in a hierarchy.';

CREATE TABLE powertrace.generators (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    switchboard_id uuid NOT NULL REFERENCES powertrace.switchboards(id),
    tag text NOT NULL,
    rated_kva numeric(10,1) NOT NULL CHECK (rated_kva > 0),
    power_factor numeric(4,3) NOT NULL CHECK (power_factor > 0 AND power_factor <= 1),
    fuel_type text NOT NULL CHECK (fuel_type IN ('diesel', 'gas', 'dual_fuel')),
    status text NOT NULL CHECK (status IN ('running', 'standby', 'maintenance', 'out_of_service')),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (site_id, tag)
);
COMMENT ON TABLE powertrace.generators IS 'Power generators feeding a switchboard.';

CREATE TABLE powertrace.transformers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    primary_switchboard_id uuid NOT NULL REFERENCES powertrace.switchboards(id),
    secondary_switchboard_id uuid NOT NULL REFERENCES powertrace.switchboards(id),
    tag text NOT NULL,
    rated_kva numeric(10,1) NOT NULL CHECK (rated_kva > 0),
    primary_voltage_v integer NOT NULL CHECK (primary_voltage_v > 0),
    secondary_voltage_v integer NOT NULL CHECK (secondary_voltage_v > 0),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (site_id, tag)
);
COMMENT ON TABLE powertrace.transformers IS 'Transformers linking a primary and a secondary switchboard.';

CREATE TABLE powertrace.equipment (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    switchboard_id uuid NOT NULL REFERENCES powertrace.switchboards(id),
    tag text NOT NULL,
    description text NOT NULL,
    rated_kw numeric(10,2) NOT NULL CHECK (rated_kw >= 0),
    absorbed_kw numeric(10,2) NOT NULL CHECK (absorbed_kw >= 0),
    power_factor numeric(4,3) NOT NULL CHECK (power_factor > 0 AND power_factor <= 1),
    efficiency numeric(4,3) NOT NULL CHECK (efficiency > 0 AND efficiency <= 1),
    load_category text NOT NULL CHECK (load_category IN ('continuous', 'intermittent', 'standby')),
    quantity integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (site_id, tag)
);
COMMENT ON TABLE powertrace.equipment IS 'Electrical consumers fed by a switchboard, used for the load balance.';
CREATE INDEX equipment_switchboard_id_idx ON powertrace.equipment (switchboard_id);

CREATE TABLE powertrace.meters (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    switchboard_id uuid NOT NULL REFERENCES powertrace.switchboards(id),
    tag text NOT NULL,
    description text NOT NULL,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (site_id, tag)
);
COMMENT ON TABLE powertrace.meters IS 'Power meters installed on switchboards.';

CREATE TABLE powertrace.meter_readings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    meter_id uuid NOT NULL REFERENCES powertrace.meters(id),
    read_at timestamptz NOT NULL,
    kw double precision NOT NULL,
    kvar double precision NOT NULL,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (meter_id, read_at)
);
COMMENT ON TABLE powertrace.meter_readings IS 'Time series of active and reactive power readings per meter.';

CREATE TABLE powertrace.scenarios (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES core.sites(id),
    name text NOT NULL,
    description text,
    base_date date NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE powertrace.scenarios IS 'What-if load balance scenarios of a site.';

CREATE TABLE powertrace.scenario_items (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scenario_id uuid NOT NULL REFERENCES powertrace.scenarios(id),
    equipment_id uuid REFERENCES powertrace.equipment(id),
    action text NOT NULL CHECK (action IN ('add', 'remove', 'modify')),
    tag text NOT NULL,
    description text,
    rated_kw numeric(10,2) CHECK (rated_kw >= 0),
    absorbed_kw numeric(10,2) CHECK (absorbed_kw >= 0),
    power_factor numeric(4,3) CHECK (power_factor > 0 AND power_factor <= 1),
    load_category text CHECK (load_category IN ('continuous', 'intermittent', 'standby')),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (action = 'remove' OR absorbed_kw IS NOT NULL)
);
COMMENT ON TABLE powertrace.scenario_items IS 'Equipment additions, removals and modifications within a load balance scenario.';

-- hse: health, safety and environment: incidents, investigations and corrective actions.
CREATE SCHEMA hse;

CREATE TABLE hse.incidents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reference text NOT NULL UNIQUE,
    site_id uuid NOT NULL REFERENCES core.sites(id),
    occurred_at timestamptz NOT NULL,
    reported_at timestamptz NOT NULL,
    severity text NOT NULL CHECK (severity IN ('near_miss', 'first_aid', 'medical_treatment', 'lost_time', 'fatality')),
    category text NOT NULL CHECK (category IN ('slip_trip_fall', 'dropped_object', 'process_safety', 'electrical', 'lifting', 'vehicle', 'environmental', 'other')),
    location text NOT NULL,
    status text NOT NULL CHECK (status IN ('reported', 'under_investigation', 'actions_pending', 'closed')),
    description text NOT NULL,
    reported_by uuid REFERENCES platform.users(id),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (reported_at >= occurred_at)
);
COMMENT ON TABLE hse.incidents IS 'Health, safety and environment incidents reported on a site.';
CREATE INDEX incidents_site_id_occurred_at_idx ON hse.incidents (site_id, occurred_at);

CREATE TABLE hse.investigations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id uuid NOT NULL REFERENCES hse.incidents(id),
    lead_id uuid REFERENCES platform.users(id),
    started_at timestamptz NOT NULL,
    completed_at timestamptz,
    root_cause text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (completed_at >= started_at)
);
COMMENT ON TABLE hse.investigations IS 'Investigations into incidents and their root causes.';

CREATE TABLE hse.actions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id uuid NOT NULL REFERENCES hse.incidents(id),
    investigation_id uuid REFERENCES hse.investigations(id),
    description text NOT NULL,
    owner_id uuid REFERENCES platform.users(id),
    status text NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'cancelled')),
    due_date date NOT NULL,
    completed_at timestamptz,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE hse.actions IS 'Corrective and preventive actions raised from incidents.';

-- redacteur: document authoring: templates, documents and their versions.
CREATE SCHEMA redacteur;

CREATE TABLE redacteur.templates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    description text,
    category text NOT NULL,
    body jsonb NOT NULL,
    page_setup jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_published boolean NOT NULL DEFAULT false,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE redacteur.templates IS 'Document templates used to author documents and generate reports.';

CREATE TABLE redacteur.documents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id uuid REFERENCES redacteur.templates(id),
    site_id uuid REFERENCES core.sites(id),
    title text NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'in_review', 'published', 'archived')),
    current_version integer NOT NULL DEFAULT 1 CHECK (current_version >= 1),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE redacteur.documents IS 'Authored documents, optionally based on a template and tied to a site.';

CREATE TABLE redacteur.document_versions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    document_id uuid NOT NULL REFERENCES redacteur.documents(id),
    version integer NOT NULL CHECK (version >= 1),
    body jsonb NOT NULL,
    warehouse_version bigint,
    comment text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (document_id, version)
);
COMMENT ON TABLE redacteur.document_versions IS 'Immutable versions of a document body.';
