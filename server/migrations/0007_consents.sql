-- The consent ledger (server/src/consent.rs, stored by
-- server/src/store/consents.rs), moved here from the plaintext
-- consent.jsonl beside the database (imported once at start-up).
-- - session is the session's name: HMAC-SHA-256 of the session id under the
--   session-name key in data_keys (server/src/store/names.rs), the same
--   name its audit and transcript rows go by; never the id itself. Rows
--   imported from consent.jsonl keep that file's unkeyed digest;
-- - policy_version is the notice's version answered;
-- - accepted is 1 (accepted) or 0 (declined);
-- - at is the time in milliseconds since the epoch, UTC.
-- Nothing else: no address, no message.
CREATE TABLE consents (
    session TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    accepted BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (session, policy_version, accepted)
);
