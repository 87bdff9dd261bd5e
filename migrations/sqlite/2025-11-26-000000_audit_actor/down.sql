-- SQLite (>= 3.35) refuses to drop a column that an index uses: drop the index first.
DROP INDEX auth_events_actor_id_at_idx;
ALTER TABLE auth_events DROP COLUMN actor_id;
