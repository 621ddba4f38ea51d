-- Scheduled reports and threshold alerts: schedules name their recipients (users by email, and roles), formats,
-- subject and body; each firing is a job (one per schedule and firing time), each recipient of a firing a delivery
-- (one per job and user); alert rules keep a state per subject (site) so that a notification is sent when a
-- condition starts and when it clears, and log every evaluation.

ALTER TABLE platform.schedules
    ADD COLUMN formats text[] NOT NULL DEFAULT '{pdf}'::text[]
        CHECK (cardinality(formats) >= 1 AND formats <@ ARRAY['pdf', 'docx', 'xlsx']::text[]),
    ADD COLUMN document jsonb,
    ADD COLUMN recipient_roles text[] NOT NULL DEFAULT '{}'::text[],
    ADD COLUMN subject text NOT NULL DEFAULT '',
    ADD COLUMN body text NOT NULL DEFAULT '',
    ADD COLUMN owner_id uuid REFERENCES platform.users(id);
UPDATE platform.schedules SET formats = ARRAY[CASE WHEN output_format = 'html' THEN 'pdf' ELSE output_format END];
ALTER TABLE platform.schedules DROP COLUMN output_format;
COMMENT ON COLUMN platform.schedules.recipients IS 'Emails of the users who receive the report, each with their own site scope.';
COMMENT ON COLUMN platform.schedules.recipient_roles IS 'Role codes: every active user holding one receives the report.';
COMMENT ON COLUMN platform.schedules.document IS 'A stored block document rendered instead of the shipped template named by template_code.';
COMMENT ON COLUMN platform.schedules.next_run_at IS 'The next firing time not yet turned into a job.';

ALTER TABLE platform.jobs
    ADD COLUMN fire_at timestamptz,
    ADD COLUMN late boolean NOT NULL DEFAULT false,
    ADD COLUMN run_after timestamptz,
    ADD COLUMN warehouse jsonb,
    ADD COLUMN worker text;
ALTER TABLE platform.jobs ADD CONSTRAINT jobs_schedule_firing_key UNIQUE (schedule_id, fire_at);
COMMENT ON COLUMN platform.jobs.fire_at IS 'The firing time of the schedule this job runs; one job per schedule and firing.';
COMMENT ON COLUMN platform.jobs.late IS 'Run after its time (the scheduler was down): missed firings run once, marked late.';
COMMENT ON COLUMN platform.jobs.run_after IS 'Not retried before this time (backoff after a failure).';
COMMENT ON COLUMN platform.jobs.warehouse IS 'The warehouse snapshot every recipient of the firing was rendered from (table -> version).';
CREATE INDEX jobs_runnable_idx ON platform.jobs (kind, status, run_after);

CREATE TABLE platform.deliveries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id uuid NOT NULL REFERENCES platform.jobs(id),
    user_id uuid NOT NULL REFERENCES platform.users(id),
    email text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'refused')),
    message_id text NOT NULL,
    sites text NOT NULL DEFAULT '',
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    note text,
    error text,
    sent_at timestamptz,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (job_id, user_id)
);
COMMENT ON TABLE platform.deliveries IS 'One message of a job to one recipient: sending is recorded before the SMTP transaction and sent after it.';

CREATE TABLE platform.alert_rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    metric text NOT NULL,
    measure text NOT NULL,
    sites text[] NOT NULL DEFAULT '{}'::text[],
    operator text NOT NULL CHECK (operator IN ('>', '>=', '<', '<=')),
    threshold double precision NOT NULL,
    from_days integer NOT NULL DEFAULT 0,
    to_days integer NOT NULL DEFAULT 6,
    cron text,
    timezone text NOT NULL DEFAULT 'Europe/Paris',
    next_run_at timestamptz,
    recipients text[] NOT NULL DEFAULT '{}'::text[],
    recipient_roles text[] NOT NULL DEFAULT '{}'::text[],
    is_enabled boolean NOT NULL DEFAULT true,
    owner_id uuid REFERENCES platform.users(id),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    CHECK (from_days <= to_days AND to_days - from_days <= 366)
);
COMMENT ON TABLE platform.alert_rules IS 'A condition on a metric per site over a window of days around the evaluation day.';

CREATE TABLE platform.alert_states (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    rule_id uuid NOT NULL REFERENCES platform.alert_rules(id),
    subject text NOT NULL,
    firing boolean NOT NULL,
    since timestamptz NOT NULL,
    value double precision,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (rule_id, subject)
);
COMMENT ON TABLE platform.alert_states IS 'Whether a rule''s condition holds for a subject (a site), since when: a change is a notification.';

CREATE TABLE platform.alert_evaluations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    rule_id uuid NOT NULL REFERENCES platform.alert_rules(id),
    evaluated_at timestamptz NOT NULL DEFAULT now(),
    trigger text NOT NULL CHECK (trigger IN ('refresh', 'schedule', 'manual')),
    warehouse jsonb,
    outcome jsonb NOT NULL DEFAULT '{}'::jsonb,
    error text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE platform.alert_evaluations IS 'Every evaluation of a rule: the values per subject, what started and cleared, or the error.';
CREATE INDEX alert_evaluations_rule_idx ON platform.alert_evaluations (rule_id, evaluated_at DESC);

CREATE TABLE platform.notifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES platform.users(id),
    rule_id uuid REFERENCES platform.alert_rules(id),
    subject text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('started', 'cleared')),
    message text NOT NULL,
    emailed_at timestamptz,
    email_error text,
    read_at timestamptz,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE platform.notifications IS 'Alert notifications for a user, listed in the web pages and sent by email.';
CREATE INDEX notifications_user_idx ON platform.notifications (user_id, created_at DESC);
