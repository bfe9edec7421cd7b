-- Clinic settings an admin changes in the console (server/src/settings.rs,
-- stored by server/src/store/settings.rs), and disabled staff accounts.
-- Nothing here is PHI or a secret. The configuration file's values stay
-- the defaults: a row here overrides them.

-- One row per setting: name is 'staffed_hours'; value is JSON.
CREATE TABLE clinic_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- An admin's edit of one FAQ entry of the knowledge file, by its intent;
-- value is JSON (answer, examples, and the Spanish answer and examples).
CREATE TABLE faq_overrides (
    intent TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Replies front desk and nurses insert into a chat, in both languages.
CREATE TABLE canned_responses (
    id BIGINT PRIMARY KEY,
    title TEXT NOT NULL,
    text_en TEXT NOT NULL,
    text_es TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Disabled staff accounts cannot sign in (disabled_at in milliseconds, 0
-- for an active account).
ALTER TABLE staff_members ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0;
