-- CareChat schema, version 1: data keys, the encrypted transcript and the
-- audit log. The same SQL runs on SQLite and PostgreSQL, so it uses only
-- TEXT and BIGINT columns; sealed values are base64url TEXT. Statements end
-- with a semicolon at the end of a line (the migration runner splits there).

-- Data keys (DEKs) and the blind-index key, each wrapped by the master key.
-- kind is 'data' or 'index'; active = 1 marks the DEK new seals use.
CREATE TABLE data_keys (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    master_fp TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    active BIGINT NOT NULL
);

-- Conversation content, sealed. session is a blind index of the session id,
-- never the id itself.
CREATE TABLE transcript (
    session TEXT NOT NULL,
    seq BIGINT NOT NULL,
    role TEXT NOT NULL,
    at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (session, seq)
);

-- The audit chain's head: one row (id = 1), updated with every append so
-- appends from several processes are serialized.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only, hash-chained audit events (see server/src/audit).
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT,
    entity_id TEXT,
    outcome TEXT NOT NULL,
    client_addr TEXT,
    session TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- Signed checkpoints over the chain's hash at seq.
CREATE TABLE audit_checkpoints (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    hash TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
