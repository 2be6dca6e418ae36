-- Row states partitioned by table: one partition per synced table (sync_row_state_<table>).
-- A table's first load writes its states into a partition of its own that has no index yet and
-- attaches it once loaded, which builds the key in one pass (src/state/rowState.ts): a key kept
-- up row by row was the larger part of PostgreSQL's work in a load. Attaching locks no other
-- table's states (SHARE UPDATE EXCLUSIVE on the parent, which DML does not conflict with), so
-- there is no default partition: it would be locked ACCESS EXCLUSIVE by every attach. Any other
-- writer makes the table's partition first when it has none (ensureStatePartition).
ALTER TABLE sync_row_state RENAME TO sync_row_state_unpartitioned;
ALTER INDEX sync_row_state_pkey RENAME TO sync_row_state_unpartitioned_pkey;
CREATE TABLE sync_row_state (LIKE sync_row_state_unpartitioned INCLUDING DEFAULTS) PARTITION BY LIST (table_name);
ALTER TABLE sync_row_state ADD CONSTRAINT sync_row_state_pkey PRIMARY KEY (table_name, legacy_id);

DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT DISTINCT table_name FROM sync_row_state_unpartitioned LOOP
    EXECUTE format('CREATE TABLE %I (LIKE sync_row_state INCLUDING DEFAULTS) WITH (fillfactor = 90)', 'sync_row_state_' || t);
    EXECUTE format('ALTER TABLE sync_row_state ATTACH PARTITION %I FOR VALUES IN (%L)', 'sync_row_state_' || t, t);
  END LOOP;
END $$;

INSERT INTO sync_row_state SELECT * FROM sync_row_state_unpartitioned;
DROP TABLE sync_row_state_unpartitioned;
