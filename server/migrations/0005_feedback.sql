-- Patients' thumbs up and down on the assistant's replies
-- (server/src/store/feedback.rs). Nothing here is PHI or message text, and
-- nothing links a row to a session or a patient:
-- - id is random; only the live session that voted remembers it (so a
--   changed vote replaces its row), and forgets it when the session ends;
-- - intent is the reply's intent name (faq.hours, appointments.list, ...);
-- - vote is up or down; reason, with down only, is one of
--   not_what_i_asked, hard_to_understand, wrong_or_out_of_date, other, or
--   NULL;
-- - at is the hour the vote was last given (milliseconds since the epoch,
--   rounded down to the hour, UTC): coarse on purpose, so a row cannot be
--   matched to a session by the times in the audit log.
CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    intent TEXT NOT NULL,
    vote TEXT NOT NULL,
    reason TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX feedback_intent ON feedback (intent);
