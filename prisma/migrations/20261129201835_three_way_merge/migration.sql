-- AlterTable
-- "Changed in the new system since the last sync" is now the copy-on-write base below.
ALTER TABLE "sync_row_state" DROP COLUMN "new_updated_at",
ADD COLUMN     "base" JSONB,
ADD COLUMN     "legacy_base" JSONB,
ADD COLUMN     "legacy_ts" TEXT,
ADD COLUMN     "review_id" BIGINT;

-- AlterTable
ALTER TABLE "sync_conflicts" ADD COLUMN     "base_version" JSONB,
ADD COLUMN     "columns" JSONB,
ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'update',
ADD COLUMN     "resolution" JSONB,
ADD COLUMN     "resolved_at" TIMESTAMPTZ(6),
ADD COLUMN     "status" TEXT NOT NULL DEFAULT 'resolved';

-- CreateTable
CREATE TABLE "sync_row_queue" (
    "table_name" TEXT NOT NULL,
    "queue" TEXT NOT NULL,
    "row_id" BIGINT NOT NULL,
    "reason" TEXT NOT NULL,
    "run_id" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 1,
    "queued_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_row_queue_pkey" PRIMARY KEY ("table_name","queue","row_id")
);

-- CreateIndex
CREATE INDEX "sync_conflicts_status_idx" ON "sync_conflicts"("status");


-- Rows waiting for a parent and rows queued by a consistency repair were held-back rows with
-- their own reason kinds; they move to their own queues.
INSERT INTO "sync_row_queue" (table_name, queue, row_id, reason, run_id, attempts, queued_at, last_seen_at)
SELECT table_name, CASE reason_kind WHEN 'missing_parent' THEN 'parent' ELSE 'repair' END, row_id, reason, run_id, attempts, first_seen_at, last_seen_at
  FROM sync_held_back
 WHERE direction = 'legacy-to-new' AND resolved_at IS NULL AND reason_kind IN ('missing_parent', 'repair')
ON CONFLICT DO NOTHING;
DELETE FROM sync_held_back WHERE direction = 'legacy-to-new' AND reason_kind IN ('missing_parent', 'repair');

-- Copy on write of the merge base: the first write to a synced row made outside the sync
-- keeps the row as it was (what both sides agreed on) in sync_row_state.base. Writes by the
-- sync itself (luckygas.origin = 'sync') are filtered by the WHEN clause, before any call.
CREATE FUNCTION sync_keep_base() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE sync_row_state SET base = to_jsonb(OLD)
   WHERE table_name = TG_ARGV[0] AND legacy_id = OLD.legacy_id AND base IS NULL;
  RETURN NULL;
END $$;

CREATE TRIGGER customers_keep_base AFTER UPDATE OR DELETE ON customers FOR EACH ROW
  WHEN (current_setting('luckygas.origin', true) IS DISTINCT FROM 'sync' AND OLD.legacy_id IS NOT NULL)
  EXECUTE FUNCTION sync_keep_base('clients');
CREATE TRIGGER drivers_keep_base AFTER UPDATE OR DELETE ON drivers FOR EACH ROW
  WHEN (current_setting('luckygas.origin', true) IS DISTINCT FROM 'sync' AND OLD.legacy_id IS NOT NULL)
  EXECUTE FUNCTION sync_keep_base('drivers');
CREATE TRIGGER orders_keep_base AFTER UPDATE OR DELETE ON orders FOR EACH ROW
  WHEN (current_setting('luckygas.origin', true) IS DISTINCT FROM 'sync' AND OLD.legacy_id IS NOT NULL)
  EXECUTE FUNCTION sync_keep_base('deliveries');
