-- Live chat sessions (server/src/sessions/stored.rs): every server sharing
-- this database can resume any session, and a restart loses none.
-- - session is the session's name (HMAC of the id under the session-name
--   key, server/src/store/names.rs), as in consents; never the id itself;
-- - version goes up by one with every write, and a write names the version
--   it read: a server holding an older copy fails instead of overwriting;
-- - expires_at is when the session ends unless the patient sends something
--   (its idle or absolute limit), milliseconds since the epoch, UTC;
-- - state is the sealed snapshot (AES-256-GCM under a data key, bound to
--   the row by its AAD): the session keys and counters, the conversation's
--   state, and the messages not yet known to have reached the widget.
CREATE TABLE live_sessions (
    session TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX live_sessions_expiry ON live_sessions (expires_at);
