-- Verification starts and codes counted across every instance on one
-- PostgreSQL (server/src/identity/shared_counts.rs): one row an event.
-- - id is random, so that one event can be given back;
-- - key names the count (a session, a client address, a patient), as a
--   keyed digest (the blind-index key): never the address or the name;
-- - at is when it happened, milliseconds since the epoch, UTC; an event
--   counts for its limit's window after it.
CREATE TABLE limit_events (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX limit_events_key_at ON limit_events (key, at);
CREATE INDEX limit_events_at ON limit_events (at);
