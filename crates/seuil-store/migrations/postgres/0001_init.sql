-- Seuil store, PostgreSQL: the first schema. Same tables as the SQLite backend.
-- Text keys use the "C" collation so that ordering is bytewise, as in SQLite, whatever the
-- database's default collation. Times are milliseconds since the Unix epoch (BIGINT).
-- Nothing here holds plaintext personal data: bodies, keys and audit details arrive sealed.

CREATE TABLE records (
    kind         TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    subject      TEXT COLLATE "C" NOT NULL,
    status       TEXT COLLATE "C",
    at           BIGINT,
    scope        TEXT COLLATE "C",
    body         BYTEA NOT NULL,
    retain_until BIGINT,
    version      BIGINT NOT NULL CHECK (version >= 1),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX records_subject ON records (subject, kind, id);
CREATE INDEX records_kind_at ON records (kind, at NULLS FIRST, id);
CREATE INDEX records_kind_status_at ON records (kind, status, at NULLS FIRST, id);
CREATE INDEX records_kind_scope_at ON records (kind, scope, at NULLS FIRST, id);
CREATE INDEX records_retain_until ON records (retain_until) WHERE retain_until IS NOT NULL;

CREATE TABLE subject_keys (
    subject    TEXT COLLATE "C" PRIMARY KEY,
    kek_id     TEXT NOT NULL,
    wrapped    BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
-- A shredded key lingers as a dead tuple until vacuum: have autovacuum visit this small,
-- rarely written table after a handful of deletes rather than after 20 % of it.
ALTER TABLE subject_keys SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 10);

CREATE TABLE shred_ledger (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject TEXT COLLATE "C" NOT NULL,
    at      BIGINT NOT NULL
);

CREATE TABLE meta (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
);

-- Append-only history: the newest decision per (subject, purpose) is in force.
CREATE TABLE consents (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject        TEXT COLLATE "C" NOT NULL,
    purpose        TEXT COLLATE "C" NOT NULL,
    granted        BOOLEAN NOT NULL,
    notice_version TEXT NOT NULL,
    at             BIGINT NOT NULL
);
CREATE INDEX consents_subject_purpose ON consents (subject, purpose, at DESC, seq DESC);

CREATE TABLE audit_leaves (
    idx       BIGINT PRIMARY KEY CHECK (idx >= 0),
    subject   TEXT COLLATE "C" NOT NULL,
    at        BIGINT NOT NULL,
    details   BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL CHECK (octet_length(leaf_hash) = 32)
);
CREATE INDEX audit_leaves_subject ON audit_leaves (subject, idx);

CREATE TABLE audit_nodes (
    level SMALLINT NOT NULL CHECK (level >= 0),
    idx   BIGINT NOT NULL CHECK (idx >= 0),
    hash  BYTEA NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    size      BIGINT PRIMARY KEY CHECK (size >= 0),
    root      BYTEA NOT NULL CHECK (octet_length(root) = 32),
    at        BIGINT NOT NULL,
    signature BYTEA NOT NULL
);

CREATE TABLE outbox (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject       TEXT COLLATE "C" NOT NULL,
    target        TEXT NOT NULL,
    payload       BYTEA NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    last_error    TEXT,
    -- While a sender holds a claim, nobody else claims the message before this time.
    lease_until   BIGINT
);
CREATE INDEX outbox_due ON outbox (next_at, id);
CREATE INDEX outbox_subject ON outbox (subject);
