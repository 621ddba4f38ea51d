-- Platform security: sign-in state on users (second factor, throttling), browser sessions, rotating refresh
-- tokens, the key that signs access tokens, and an audit log that records who did what with which parameters and
-- result, and that nothing can update or delete.

ALTER TABLE platform.users
    ADD COLUMN totp_secret text,
    ADD COLUMN totp_last_step bigint,
    ADD COLUMN failed_sign_ins integer NOT NULL DEFAULT 0 CHECK (failed_sign_ins >= 0),
    ADD COLUMN locked_until timestamptz,
    ADD COLUMN password_changed_at timestamptz;
COMMENT ON COLUMN platform.users.totp_secret IS 'Base32 TOTP secret once enrolment is confirmed; null without a second factor.';
COMMENT ON COLUMN platform.users.totp_last_step IS 'The last TOTP time step accepted, so a code is usable once.';

CREATE TABLE platform.signing_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    secret bytea NOT NULL CHECK (length(secret) >= 32),
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE platform.signing_keys IS 'HMAC keys that sign access tokens; the newest live one signs, every live one verifies.';

CREATE TABLE platform.sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES platform.users(id),
    token_hash bytea NOT NULL UNIQUE,
    csrf_token text NOT NULL,
    second_factor_pending boolean NOT NULL DEFAULT false,
    pending_totp_secret text,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    address text,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE platform.sessions IS 'Browser sessions: the SHA-256 of the cookie, its CSRF token, idle and absolute expiry.';
CREATE INDEX sessions_user_id_idx ON platform.sessions (user_id);

CREATE TABLE platform.refresh_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    family_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES platform.users(id),
    token_hash bytea NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz,
    external_id text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES platform.users(id),
    updated_by uuid REFERENCES platform.users(id),
    deleted_at timestamptz,
    deleted_by uuid REFERENCES platform.users(id)
);
COMMENT ON TABLE platform.refresh_tokens IS 'API refresh tokens (SHA-256), rotated on use; a reused one revokes its whole family.';
CREATE INDEX refresh_tokens_family_id_idx ON platform.refresh_tokens (family_id);

ALTER TABLE platform.audit_log
    ADD COLUMN actor_email text,
    ADD COLUMN parameters jsonb,
    ADD COLUMN result text,
    ADD COLUMN warehouse jsonb,
    ADD COLUMN address text;
CREATE INDEX audit_log_action_idx ON platform.audit_log (action, occurred_at);

CREATE FUNCTION platform.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'platform.audit_log is append-only: % is refused', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON platform.audit_log
    FOR EACH ROW EXECUTE FUNCTION platform.audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON platform.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION platform.audit_log_is_append_only();
