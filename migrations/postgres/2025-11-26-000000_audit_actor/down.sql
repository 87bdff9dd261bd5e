DROP INDEX auth_events_actor_id_at_idx;
ALTER TABLE auth_events DROP COLUMN actor_id;
