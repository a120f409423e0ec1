-- Seuil store, SQLite audit file, version 3: the subject index keeps one row per subject and
-- indexing pass, listing that subject's leaves of the pass, instead of one row per leaf.
--
-- An indexing pass covers the few thousand leaves appended since the last one. A row per
-- leaf made each pass thousands of b-tree inserts, which cost the writer more CPU than the
-- appends they indexed: two fifths of its time under audited reads. A subject seen many times
-- in a pass (a device streaming, a customer browsing) is now one insert.
--
-- `first` is the row's smallest leaf index, and a subject's rows cover disjoint ranges in
-- the order of `first`, so reading newest first walks rows by `first` descending. `idxs`
-- holds the leaf indexes in ascending order, 8 bytes each, big-endian.
CREATE TABLE audit.audit_postings (
    subject TEXT NOT NULL,
    first   INTEGER NOT NULL CHECK (first >= 0),
    idxs    BLOB NOT NULL CHECK (length(idxs) > 0 AND length(idxs) % 8 = 0),
    PRIMARY KEY (subject, first)
) WITHOUT ROWID;

-- The rows of version 2, grouped per subject and block of 4096 leaves.
INSERT INTO audit.audit_postings (subject, first, idxs)
    SELECT subject, min(idx), unhex(group_concat(printf('%016x', idx), '' ORDER BY idx))
      FROM audit.audit_subjects
     GROUP BY subject, idx / 4096;

DROP TABLE audit.audit_subjects;
