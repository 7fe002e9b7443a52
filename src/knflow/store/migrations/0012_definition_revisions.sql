-- Immutable definition revisions, and the revision each instance runs.
--
-- `definitions` keeps one row per (workflow, version): what a new start of that version gets.
-- Every registration with new content adds a revision here, numbered per workflow and keyed by
-- the content's checksum, so the same content is always the same revision. An instance names
-- its revision and runs on it to its end, whatever is registered meanwhile.
--
-- A revision no instance needs any more is dropped by keeping its row without its source: its
-- number and label are never given to other content, and registering its content again brings
-- it back as it was.
--
-- Expand only: a previous release still reads and writes `definitions` as before; instances it
-- starts have no revision and run on their version's current content, as they always did.

CREATE TABLE definition_revisions (
    workflow_id   text NOT NULL,
    revision      integer NOT NULL,
    version       text NOT NULL,
    -- The version as instances show it (ProcessInstance.version): the version itself for the
    -- first revision of a version, `<version>+r<revision>` for later content under that version.
    label         text NOT NULL,
    checksum      text NOT NULL,
    name          text NOT NULL,
    description   text,
    -- NULL once dropped.
    source        jsonb,
    registered_at timestamptz NOT NULL,
    dropped_at    timestamptz,
    CONSTRAINT definition_revisions_pkey PRIMARY KEY (workflow_id, revision),
    CONSTRAINT definition_revisions_workflow_id_checksum_key UNIQUE (workflow_id, checksum),
    CONSTRAINT definition_revisions_revision_check CHECK (revision > 0)
);

-- Each stored definition becomes a revision: a workflow's versions are numbered in the order
-- they were registered, and each is the first (so its label is its version).
INSERT INTO definition_revisions (workflow_id, revision, version, label, checksum, name,
                                  description, source, registered_at)
SELECT workflow_id,
       row_number() OVER (PARTITION BY workflow_id ORDER BY registered_at, version),
       version, version, checksum, name, description, source, registered_at
  FROM definitions;

ALTER TABLE instances ADD COLUMN definition_revision integer;

UPDATE instances AS i
   SET definition_revision = r.revision
  FROM definitions AS d
  JOIN definition_revisions AS r
    ON r.workflow_id = d.workflow_id AND r.checksum = d.checksum
 WHERE d.workflow_id = i.workflow_id
   AND d.version = i.workflow_version;

ALTER TABLE instances
    ADD CONSTRAINT instances_definition_revision_fkey
    FOREIGN KEY (workflow_id, definition_revision)
    REFERENCES definition_revisions (workflow_id, revision);

CREATE INDEX instances_workflow_id_definition_revision_idx
    ON instances (workflow_id, definition_revision)
    WHERE definition_revision IS NOT NULL;
