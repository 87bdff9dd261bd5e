-- The admin who acted, when it is not the user themself (disabling a user, revoking
-- another user's session). No foreign key, like the rest of the audit trail.
ALTER TABLE auth_events ADD COLUMN actor_id TEXT;
-- What an admin did (`tessera audit`, by actor and time).
CREATE INDEX auth_events_actor_id_at_idx ON auth_events (actor_id, at);
