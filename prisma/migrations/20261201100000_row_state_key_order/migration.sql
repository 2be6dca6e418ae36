-- The row states' key with legacy_id first: (legacy_id, table_name) instead of (table_name,
-- legacy_id). Within a partition table_name is one value, so a key led by it made every
-- comparison of a key build go through the text before the id: a table's first load builds its
-- partition's key when it attaches it, and over 1M states that took ~360 ms against ~210 with
-- the id first. Every lookup names both columns by equality (or the id's range within the
-- table's partition), which the key serves in either order.
ALTER TABLE sync_row_state DROP CONSTRAINT sync_row_state_pkey;
ALTER TABLE sync_row_state ADD CONSTRAINT sync_row_state_pkey PRIMARY KEY (legacy_id, table_name);
