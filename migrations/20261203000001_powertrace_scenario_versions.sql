-- PowerTrace what-if scenarios with versions and recorded evaluations.
--
-- A scenario's items are kept per version: every save writes the whole item list again
-- under the next version number, so an old version stays readable and an evaluation can
-- name the version it evaluated. Items now cover generators, transformers and factors
-- as well as equipment, each with the day it takes effect.

ALTER TABLE powertrace.scenarios
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0),
    ADD COLUMN factors jsonb NOT NULL DEFAULT '{}'::jsonb;
COMMENT ON COLUMN powertrace.scenarios.version IS 'The current version; its items are the scenario_items rows of that version.';
COMMENT ON COLUMN powertrace.scenarios.factors IS 'Load-category and diversity factors the scenario starts from (absent members: the defaults).';

ALTER TABLE powertrace.scenario_items
    DROP CONSTRAINT IF EXISTS scenario_items_check,
    ALTER COLUMN tag DROP NOT NULL,
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0),
    ADD COLUMN position integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    ADD COLUMN subject text NOT NULL DEFAULT 'equipment'
        CHECK (subject IN ('equipment', 'generator', 'transformer', 'factors')),
    ADD COLUMN start_date date,
    ADD COLUMN switchboard_code text,
    ADD COLUMN secondary_switchboard_code text,
    ADD COLUMN efficiency numeric(4,3) CHECK (efficiency > 0 AND efficiency <= 1),
    ADD COLUMN quantity integer CHECK (quantity > 0),
    ADD COLUMN rated_kva numeric(10,1) CHECK (rated_kva > 0),
    ADD COLUMN out_of_service boolean NOT NULL DEFAULT false,
    ADD COLUMN factors jsonb,
    ADD CONSTRAINT scenario_items_added_equipment_has_load
        CHECK (subject <> 'equipment' OR action <> 'add' OR absorbed_kw IS NOT NULL),
    ADD CONSTRAINT scenario_items_names_its_subject
        CHECK (subject = 'factors' OR tag IS NOT NULL);
COMMENT ON COLUMN powertrace.scenario_items.version IS 'The scenario version this item belongs to.';
COMMENT ON COLUMN powertrace.scenario_items.subject IS 'What the item changes: equipment, a generator, a transformer or the factors.';
COMMENT ON COLUMN powertrace.scenario_items.start_date IS 'The day the change takes effect (none: the scenario base date).';
CREATE INDEX scenario_items_scenario_version_idx ON powertrace.scenario_items (scenario_id, version, position);

CREATE TABLE powertrace.scenario_versions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scenario_id uuid NOT NULL REFERENCES powertrace.scenarios(id),
    version integer NOT NULL CHECK (version > 0),
    name text NOT NULL,
    description text,
    base_date date NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    factors jsonb NOT NULL DEFAULT '{}'::jsonb,
    comment text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id),
    UNIQUE (scenario_id, version)
);
COMMENT ON TABLE powertrace.scenario_versions IS 'Every saved version of a scenario: who saved it (created_by), when and why; its items are the scenario_items rows of the same version.';

CREATE TABLE powertrace.scenario_evaluations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scenario_id uuid NOT NULL REFERENCES powertrace.scenarios(id),
    version integer NOT NULL CHECK (version > 0),
    day date NOT NULL,
    warehouse jsonb NOT NULL,
    failures integer NOT NULL CHECK (failures >= 0),
    result jsonb NOT NULL,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE powertrace.scenario_evaluations IS 'Each evaluation of a scenario: the version evaluated, the warehouse snapshot read (table versions), the result, who ran it (created_by) and when (created_at).';
CREATE INDEX scenario_evaluations_scenario_idx ON powertrace.scenario_evaluations (scenario_id, created_at DESC);
