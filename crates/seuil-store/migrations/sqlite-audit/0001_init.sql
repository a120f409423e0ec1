-- Seuil store, SQLite: the audit log, in its own file (`seuil-audit.db` beside `seuil.db`,
-- attached as `audit`). It has its own schema version (its `user_version`).
--
-- Own file: in WAL mode a connection drops its page cache (and its memory map) for a file
-- whenever another connection has committed to it. With the log beside the records, every
-- audited open invalidated every reader's cache of the records; now appends leave it alone.
--
-- Appends only extend these tables in key order. The index by subject is filled in bulk
-- every few thousand events (sorted, so each page is written once for many events) instead
-- of one random page per event on the append path; leaves from `audit_indexed.upto` on are
-- found by scanning that short tail of the log.

-- `idx` is the rowid, so the log size is `max(idx) + 1`, read from the end of the b-tree.
CREATE TABLE audit.audit_leaves (
    idx       INTEGER PRIMARY KEY CHECK (idx >= 0),
    subject   TEXT NOT NULL,
    at        INTEGER NOT NULL,
    details   BLOB NOT NULL,
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
);

CREATE TABLE audit.audit_subjects (
    subject TEXT NOT NULL,
    idx     INTEGER NOT NULL,
    PRIMARY KEY (subject, idx)
) WITHOUT ROWID;

-- One row: every leaf with an index below `upto` is in audit_subjects.
CREATE TABLE audit.audit_indexed (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    upto INTEGER NOT NULL CHECK (upto >= 0)
);
INSERT INTO audit.audit_indexed (one, upto) VALUES (1, 0);

CREATE TABLE audit.audit_nodes (
    level INTEGER NOT NULL CHECK (level >= 0),
    idx   INTEGER NOT NULL CHECK (idx >= 0),
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE audit.checkpoints (
    size      INTEGER PRIMARY KEY CHECK (size >= 0),
    root      BLOB NOT NULL CHECK (length(root) = 32),
    at        INTEGER NOT NULL,
    signature BLOB NOT NULL
);
