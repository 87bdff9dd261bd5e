DROP TABLE server_secrets;
DROP TABLE auth_events;
DROP TABLE signing_keys;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
