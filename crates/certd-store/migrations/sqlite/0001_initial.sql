-- certd schema 1, SQLite.
-- Times are INTEGER microseconds since the Unix epoch (UTC): they compare and sort
-- correctly, unlike RFC 3339 text with varying precision.
-- Secrets are never stored: password_hash is Argon2id, token_hash/key_hash are SHA-256
-- hex of the bearer value, devices hold public keys only.

CREATE TABLE accounts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    username          TEXT    NOT NULL,
    password_hash     TEXT    NOT NULL,
    email             TEXT    NOT NULL,
    email_verified_at INTEGER,
    created_at        INTEGER NOT NULL,
    disabled_at       INTEGER,
    deleted_at        INTEGER
);
-- Usernames stay taken after a (soft) delete.
CREATE UNIQUE INDEX accounts_username_key ON accounts (lower(username));

CREATE TABLE sessions (
    token_hash  TEXT    PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- A row per registration; deleted rows stay to hold the label back and to keep the
-- history of devices, orders and certificates that point at them.
CREATE TABLE hostnames (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    label       TEXT    NOT NULL CHECK (label = lower(label) AND length(label) BETWEEN 1 AND 63),
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE UNIQUE INDEX hostnames_live_label ON hostnames (label) WHERE deleted_at IS NULL;
CREATE INDEX hostnames_label_deleted ON hostnames (label, deleted_at);
CREATE INDEX hostnames_account ON hostnames (account_id);

CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    prefix        TEXT    NOT NULL,
    key_hash      TEXT    NOT NULL UNIQUE,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    hostname_id   INTEGER NOT NULL REFERENCES hostnames (id),
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER,
    consumed_at   INTEGER
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE devices (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    hostname_id  INTEGER NOT NULL REFERENCES hostnames (id),
    api_key_id   INTEGER NOT NULL REFERENCES api_keys (id),
    public_key   BLOB    NOT NULL UNIQUE CHECK (length(public_key) = 32),
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX devices_account ON devices (account_id);

CREATE TABLE nonces (
    device_id  INTEGER NOT NULL REFERENCES devices (id),
    nonce      TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX nonces_seen ON nonces (seen_at);

CREATE TABLE orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    device_id       INTEGER REFERENCES devices (id),
    hostname_id     INTEGER NOT NULL REFERENCES hostnames (id),
    csr_der         BLOB    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN
                        ('pending', 'challenge_published', 'ready', 'valid', 'invalid', 'failed')),
    acme_order_url  TEXT,
    challenge_txt   TEXT,
    error           TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX orders_unfinished ON orders (state)
    WHERE state IN ('pending', 'challenge_published', 'ready');

CREATE TABLE certificates (
    serial       TEXT    PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    hostname_id  INTEGER NOT NULL REFERENCES hostnames (id),
    order_id     INTEGER REFERENCES orders (id),
    replaces     TEXT,
    not_before   INTEGER NOT NULL,
    not_after    INTEGER NOT NULL,
    chain_pem    TEXT    NOT NULL,
    issued_at    INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX certificates_account ON certificates (account_id);
CREATE INDEX certificates_issued ON certificates (issued_at);

-- No foreign keys: an audit row must never fail to be written.
CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    actor_id     INTEGER,
    subject_id   INTEGER,
    client_addr  TEXT,
    action       TEXT    NOT NULL,
    target       TEXT,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('ok', 'denied', 'error')),
    reason       TEXT
);
CREATE INDEX audit_actor ON audit_events (actor_id, at);
CREATE INDEX audit_subject ON audit_events (subject_id, at);
