-- Tessera's tables. Portable column types only, mirrored in migrations/sqlite:
-- ids are TEXT (UUIDs), instants are TIMESTAMP without time zone holding UTC.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    -- space-separated role names
    roles         TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    disabled_at   TIMESTAMP
);

CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          TIMESTAMP NOT NULL,
    absolute_expires_at TIMESTAMP NOT NULL,
    last_refreshed_at   TIMESTAMP NOT NULL,
    revoked_at          TIMESTAMP,
    revocation_reason   TEXT,
    ip                  TEXT,
    user_agent          TEXT
);
-- A user's active sessions (user_id = ? AND revoked_at IS NULL), and the cascade
-- when a user is deleted.
CREATE INDEX sessions_user_id_revoked_at_idx ON sessions (user_id, revoked_at);
-- Purging ended sessions.
CREATE INDEX sessions_absolute_expires_at_idx ON sessions (absolute_expires_at);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    id               TEXT PRIMARY KEY,
    session_id       TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation       INTEGER NOT NULL CHECK (generation >= 1),
    token_hash       BYTEA NOT NULL UNIQUE,
    issued_at        TIMESTAMP NOT NULL,
    used_at          TIMESTAMP,
    sealed_successor BYTEA,
    -- A family never branches: one token per generation. Also the index for
    -- session_id lookups and the cascade from sessions.
    CONSTRAINT refresh_tokens_session_id_generation_key UNIQUE (session_id, generation)
);
-- SPEC §2 invariant, enforced by the database too: at most one unused token per session.
CREATE UNIQUE INDEX refresh_tokens_one_unused_per_session_idx
    ON refresh_tokens (session_id) WHERE used_at IS NULL;
-- Clearing sealed responses once the grace window has passed.
CREATE INDEX refresh_tokens_sealed_used_at_idx
    ON refresh_tokens (used_at) WHERE sealed_successor IS NOT NULL;

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    public_key  BYTEA NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    retired_at  TIMESTAMP
);
CREATE INDEX signing_keys_created_at_idx ON signing_keys (created_at);

-- No foreign keys: the audit trail outlives the users and sessions it mentions.
CREATE TABLE auth_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMP NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    session_id TEXT,
    ip         TEXT,
    user_agent TEXT,
    code       TEXT
);
CREATE INDEX auth_events_user_id_at_idx ON auth_events (user_id, at);
CREATE INDEX auth_events_at_idx ON auth_events (at);

-- Secrets the server generates once and every node shares (e.g. the token pepper when
-- TESSERA_TOKEN_PEPPER is not set).
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at TIMESTAMP NOT NULL
);
