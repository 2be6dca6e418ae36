-- CreateTable
CREATE TABLE "sync_order_outbox" (
    "id" BIGSERIAL NOT NULL,
    "order_id" INTEGER NOT NULL,
    "operation" TEXT NOT NULL,
    "changed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(6),
    "run_id" TEXT,

    CONSTRAINT "sync_order_outbox_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "sync_order_outbox_processed_at_id_idx" ON "sync_order_outbox"("processed_at", "id");


-- Capture every change of an order made outside the sync, in the same transaction.
-- The sync marks its own writes with SET LOCAL luckygas.origin = 'sync' (no ping-pong).
CREATE FUNCTION sync_capture_order_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('luckygas.origin', true) = 'sync' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    INSERT INTO sync_order_outbox (order_id, operation) VALUES (OLD.id, TG_OP);
  ELSE
    INSERT INTO sync_order_outbox (order_id, operation) VALUES (NEW.id, TG_OP);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER orders_capture_change
  AFTER INSERT OR UPDATE OR DELETE ON orders
  FOR EACH ROW EXECUTE FUNCTION sync_capture_order_change();

-- Only unprocessed entries are read, oldest first.
CREATE INDEX sync_order_outbox_pending_idx ON sync_order_outbox (id) WHERE processed_at IS NULL;
