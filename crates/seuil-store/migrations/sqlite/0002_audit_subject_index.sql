-- The per-subject index of the audit log moves off the append path.
--
-- With an index on audit_leaves (subject), every append dirtied one index page per subject
-- in the batch, each written whole to the WAL and fsynced before the open it audits could
-- return: most of the cost of an audited open. Appends now only extend the log (sequential
-- pages); every few thousand events, one append also copies the new leaves into this table,
-- sorted, so each page is written once for many events. Leaves past `audit_indexed.upto` are
-- found by scanning that short tail of the log.
DROP INDEX audit_leaves_subject;

CREATE TABLE audit_subjects (
    subject TEXT NOT NULL,
    idx     INTEGER NOT NULL,
    PRIMARY KEY (subject, idx)
) WITHOUT ROWID;

-- One row: every leaf with an index below `upto` is in audit_subjects.
CREATE TABLE audit_indexed (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    upto INTEGER NOT NULL CHECK (upto >= 0)
);

INSERT INTO audit_subjects (subject, idx) SELECT subject, idx FROM audit_leaves ORDER BY subject, idx;
INSERT INTO audit_indexed (one, upto) SELECT 1, coalesce(max(idx) + 1, 0) FROM audit_leaves;
