-- Seuil store, SQLite audit file, version 2: leaves are stored in runs.
--
-- A run is the leaves one append added (at most 256 of them) and the Merkle nodes those
-- leaves complete, in one row. An audited read is one leaf; a group commit of a hundred of
-- them used to write two hundred rows (a leaf and a node each, the nodes scattered over the
-- b-tree by level), which cost the writer more than everything else in the commit. Now it
-- writes one row, at the end of the table.
--
-- Columns in the order they are read: a proof reads `hashes` or `nodes` and never the
-- details after them. Their byte format is described in `src/sqlite/audit/run.rs`.
--
-- The rows of version 1 (`audit_leaves`, `audit_nodes`) are packed into runs and dropped by
-- the store right after this migration, in one transaction (`audit::pack_row_log`).
CREATE TABLE audit.audit_runs (
    first  INTEGER PRIMARY KEY CHECK (first >= 0),
    count  INTEGER NOT NULL CHECK (count > 0),
    hashes BLOB NOT NULL CHECK (length(hashes) = 32 * count),
    nodes  BLOB NOT NULL CHECK (length(nodes) % 41 = 0),
    leaves BLOB NOT NULL
);
