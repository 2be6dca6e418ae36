-- A load into an empty table journals its rows as one range (row_id..last_row_id) with the
-- loading transaction's id: a loaded row whose xmin is still that id was not written since.
ALTER TABLE "sync_journal" ADD COLUMN "last_row_id" BIGINT,
ADD COLUMN "load_xid" BIGINT;

-- A rollback looks for the range that loaded a row: few entries, found without the others.
CREATE INDEX "sync_journal_ranges_idx" ON "sync_journal"("table_name", "row_id", "last_row_id") WHERE "last_row_id" IS NOT NULL;
