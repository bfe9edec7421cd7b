-- Clinic staff accounts, sign-in limits and console sessions
-- (server/src/staff). Passwords are argon2id PHC strings; TOTP secrets are
-- sealed (AAD: staff_members, totp_secret, id); session tokens are stored
-- only as keyed hashes (blind indexes), their CSRF tokens sealed.

-- One row per staff member. username is lower-case; role is one of
-- front_desk, nurse, compliance, admin. totp_last_step is the last TOTP
-- time step accepted (each is accepted once).
CREATE TABLE staff_members (
    id BIGINT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    totp_secret TEXT NOT NULL,
    totp_last_step BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Consecutive sign-in failures per username (a blind index of it, so
-- names that do not exist are counted the same way). locked_until is a
-- time in milliseconds, 0 when not locked.
CREATE TABLE staff_sign_in_failures (
    subject TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);

-- Failed sign-ins per client address (a blind index of it) in the window
-- that began at window_start (milliseconds).
CREATE TABLE staff_address_failures (
    address TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures BIGINT NOT NULL
);

-- Signed-in staff. token_hash is a blind index of the cookie's token.
CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    member_id BIGINT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
CREATE INDEX staff_sessions_member ON staff_sessions (member_id);
