-- Staff passkeys (WebAuthn) and their pending ceremonies
-- (server/src/staff/passkey.rs).

-- One row per registered passkey. credential_id is the credential's id in
-- base64url (unique across all accounts: one authenticator credential can
-- belong to one staff member only). passkey is webauthn-rs's credential
-- record (public key, counter, flags) as JSON, sealed
-- (AAD: staff_passkeys, passkey, member_id, credential_id), so a row moved
-- to another account, or written without the data key, does not open.
-- name is the label the staff member gave it. Times are milliseconds.
CREATE TABLE staff_passkeys (
    credential_id TEXT PRIMARY KEY,
    member_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    passkey TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL
);
CREATE INDEX staff_passkeys_member ON staff_passkeys (member_id);

-- Registrations and sign-ins under way. id_hash is a blind index of the
-- ceremony token handed to the browser; kind is register or sign_in;
-- binding is what the ceremony belongs to: the session's token hash for a
-- registration, the sign-in throttle's subject (the typed username's
-- blind index) for a sign-in; member_id is 0 for a sign-in with a name
-- that has no passkey. state is webauthn-rs's ceremony state (the
-- challenge), sealed (AAD: staff_passkey_ceremonies, state, id_hash, kind).
-- Each row is deleted when it is used, right or wrong, or past expires_at.
CREATE TABLE staff_passkey_ceremonies (
    id_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    binding TEXT NOT NULL,
    member_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    client_key TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX staff_passkey_ceremonies_expiry ON staff_passkey_ceremonies (expires_at);
