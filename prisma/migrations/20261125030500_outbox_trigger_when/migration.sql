-- The sync's own writes are filtered by the trigger's WHEN clause, evaluated before any
-- trigger event is queued: no PL/pgSQL call per row the sync writes (a large share of a
-- batch's time otherwise). The function keeps its own check for direct calls.
DROP TRIGGER orders_capture_change ON orders;

CREATE TRIGGER orders_capture_change
  AFTER INSERT OR UPDATE OR DELETE ON orders
  FOR EACH ROW
  WHEN (current_setting('luckygas.origin', true) IS DISTINCT FROM 'sync')
  EXECUTE FUNCTION sync_capture_order_change();
