-- certd schema 2, SQLite: single-use emailed links (address verification, password reset).
-- token_hash is the SHA-256 hex of the link's token; the token itself is never stored.
-- Spent rows stay until they expire, so resend limits count them; prune_email_tokens
-- deletes them after.

CREATE TABLE email_tokens (
    token_hash  TEXT    PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    purpose     TEXT    NOT NULL CHECK (purpose IN ('verify', 'reset')),
    email       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    spent       BOOLEAN NOT NULL DEFAULT FALSE CHECK (spent IN (FALSE, TRUE))
);
CREATE INDEX email_tokens_account ON email_tokens (account_id, purpose, created_at);
CREATE INDEX email_tokens_expires ON email_tokens (expires_at);
