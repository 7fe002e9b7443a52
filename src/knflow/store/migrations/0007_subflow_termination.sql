-- SW 0.8 `onParentComplete: terminate`: async subflows that end with their parent.

ALTER TABLE instances ADD COLUMN terminate_with_parent boolean NOT NULL DEFAULT false;
