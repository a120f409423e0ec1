-- Seuil store, SQLite: the first schema. Same tables as the PostgreSQL backend.
-- Times are milliseconds since the Unix epoch (INTEGER). Text compares bytewise (BINARY).
-- Nothing here holds plaintext personal data: bodies, keys and audit details arrive sealed.

-- A rowid table rather than WITHOUT ROWID: bodies can be large, and SQLite advises rowid
-- tables for rows bigger than a few hundred bytes.
CREATE TABLE records (
    kind         TEXT NOT NULL,
    id           TEXT NOT NULL,
    subject      TEXT NOT NULL,
    status       TEXT,
    at           INTEGER,
    scope        TEXT,
    body         BLOB NOT NULL,
    retain_until INTEGER,
    version      INTEGER NOT NULL CHECK (version >= 1),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX records_subject ON records (subject, kind, id);
CREATE INDEX records_kind_at ON records (kind, at, id);
CREATE INDEX records_kind_status_scope_at ON records (kind, status, scope, at);
CREATE INDEX records_retain_until ON records (retain_until) WHERE retain_until IS NOT NULL;

-- Wrapped subject keys. Erasure deletes the row; `secure_delete` (set on every connection
-- that writes) zeroes the freed bytes, and a TRUNCATE checkpoint removes the WAL copy.
CREATE TABLE subject_keys (
    subject    TEXT PRIMARY KEY,
    kek_id     TEXT NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE shred_ledger (
    seq     INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    at      INTEGER NOT NULL
);

CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- Append-only history: the newest decision per (subject, purpose) is in force. The index
-- ends with the implicit rowid (`seq`), so "newest" (at DESC, seq DESC) is one index probe.
CREATE TABLE consents (
    seq            INTEGER PRIMARY KEY,
    subject        TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    granted        INTEGER NOT NULL CHECK (granted IN (0, 1)),
    notice_version TEXT NOT NULL,
    at             INTEGER NOT NULL
);
CREATE INDEX consents_subject_purpose ON consents (subject, purpose, at);

-- `idx` is the rowid, so the log size is `max(idx) + 1`, read from the end of the b-tree.
CREATE TABLE audit_leaves (
    idx       INTEGER PRIMARY KEY CHECK (idx >= 0),
    subject   TEXT NOT NULL,
    at        INTEGER NOT NULL,
    details   BLOB NOT NULL,
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
);
CREATE INDEX audit_leaves_subject ON audit_leaves (subject);

CREATE TABLE audit_nodes (
    level INTEGER NOT NULL CHECK (level >= 0),
    idx   INTEGER NOT NULL CHECK (idx >= 0),
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    size      INTEGER PRIMARY KEY CHECK (size >= 0),
    root      BLOB NOT NULL CHECK (length(root) = 32),
    at        INTEGER NOT NULL,
    signature BLOB NOT NULL
);

-- AUTOINCREMENT so that an id is never reused, even after the newest message is done: a
-- late `outbox_done` from a sender whose lease ran out must not hit a newer message.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    subject     TEXT NOT NULL,
    target      TEXT NOT NULL,
    payload     BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    lease_until INTEGER,
    last_error  TEXT
);
CREATE INDEX outbox_due ON outbox (next_at, id);
CREATE INDEX outbox_subject ON outbox (subject);
