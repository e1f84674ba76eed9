-- certd schema 1, PostgreSQL. Same tables, columns and constraints as
-- migrations/sqlite/0001_initial.sql; times are TIMESTAMPTZ (microsecond precision);
-- labels and serials use the "C" collation so they sort bytewise, as in SQLite.
-- Secrets are never stored: password_hash is Argon2id, token_hash/key_hash are SHA-256
-- hex of the bearer value, devices hold public keys only.

CREATE TABLE accounts (
    id                BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username          TEXT    NOT NULL,
    password_hash     TEXT    NOT NULL,
    email             TEXT    NOT NULL,
    email_verified_at TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    disabled_at       TIMESTAMPTZ,
    deleted_at        TIMESTAMPTZ
);
-- Usernames stay taken after a (soft) delete.
CREATE UNIQUE INDEX accounts_username_key ON accounts (lower(username));

CREATE TABLE sessions (
    token_hash  TEXT    PRIMARY KEY,
    account_id  BIGINT  NOT NULL REFERENCES accounts (id),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- A row per registration; deleted rows stay to hold the label back and to keep the
-- history of devices, orders and certificates that point at them.
CREATE TABLE hostnames (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label       TEXT COLLATE "C" NOT NULL CHECK (label = lower(label) AND length(label) BETWEEN 1 AND 63),
    account_id  BIGINT  NOT NULL REFERENCES accounts (id),
    created_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX hostnames_live_label ON hostnames (label) WHERE deleted_at IS NULL;
CREATE INDEX hostnames_label_deleted ON hostnames (label, deleted_at);
CREATE INDEX hostnames_account ON hostnames (account_id);

CREATE TABLE api_keys (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix        TEXT    NOT NULL,
    key_hash      TEXT    NOT NULL UNIQUE,
    account_id    BIGINT  NOT NULL REFERENCES accounts (id),
    hostname_id   BIGINT  NOT NULL REFERENCES hostnames (id),
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ,
    consumed_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE devices (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   BIGINT  NOT NULL REFERENCES accounts (id),
    hostname_id  BIGINT  NOT NULL REFERENCES hostnames (id),
    api_key_id   BIGINT  NOT NULL REFERENCES api_keys (id),
    public_key   BYTEA   NOT NULL UNIQUE CHECK (octet_length(public_key) = 32),
    created_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX devices_account ON devices (account_id);

CREATE TABLE nonces (
    device_id  BIGINT  NOT NULL REFERENCES devices (id),
    nonce      TEXT    NOT NULL,
    seen_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX nonces_seen ON nonces (seen_at);

CREATE TABLE orders (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      BIGINT  NOT NULL REFERENCES accounts (id),
    device_id       BIGINT  REFERENCES devices (id),
    hostname_id     BIGINT  NOT NULL REFERENCES hostnames (id),
    csr_der         BYTEA   NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN
                        ('pending', 'challenge_published', 'ready', 'valid', 'invalid', 'failed')),
    acme_order_url  TEXT,
    challenge_txt   TEXT,
    error           TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX orders_unfinished ON orders (state)
    WHERE state IN ('pending', 'challenge_published', 'ready');

CREATE TABLE certificates (
    serial       TEXT COLLATE "C" PRIMARY KEY,
    account_id   BIGINT  NOT NULL REFERENCES accounts (id),
    hostname_id  BIGINT  NOT NULL REFERENCES hostnames (id),
    order_id     BIGINT  REFERENCES orders (id),
    replaces     TEXT,
    not_before   TIMESTAMPTZ NOT NULL,
    not_after    TIMESTAMPTZ NOT NULL,
    chain_pem    TEXT    NOT NULL,
    issued_at    TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX certificates_account ON certificates (account_id);
CREATE INDEX certificates_issued ON certificates (issued_at);

-- No foreign keys: an audit row must never fail to be written.
CREATE TABLE audit_events (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL,
    actor_id     BIGINT,
    subject_id   BIGINT,
    client_addr  TEXT,
    action       TEXT    NOT NULL,
    target       TEXT,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('ok', 'denied', 'error')),
    reason       TEXT
);
CREATE INDEX audit_actor ON audit_events (actor_id, at);
CREATE INDEX audit_subject ON audit_events (subject_id, at);
