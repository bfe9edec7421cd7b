-- One-time codes and verification limits (server/src/identity/otp.rs).
-- Nothing here is PHI: subjects are blind indexes (HMAC) of a patient id or
-- of details typed, and codes are stored only as keyed hashes.

-- One row per code issued. spent = 1 once used, exhausted, superseded by a
-- newer code, or locked out.
CREATE TABLE otp_challenges (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    spent BIGINT NOT NULL
);
CREATE INDEX otp_challenges_subject ON otp_challenges (subject);

-- Consecutive failures, lockout and resend cooldown per subject, shared by
-- every session and every server instance.
CREATE TABLE verification_subjects (
    subject TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    last_sent_at BIGINT NOT NULL
);
