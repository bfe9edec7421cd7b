-- Rate limits every instance on one database shares
-- (server/src/rate_limit/shared.rs): one token bucket a row.
-- - bucket names the limit and the client address it counts, as a keyed
--   digest (the blind-index key): never the address itself;
-- - tokens is what the bucket held at updated_at (milliseconds since the
--   epoch, UTC); it refills at the limit's rate up to its capacity.
CREATE TABLE rate_buckets (
    bucket TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX rate_buckets_updated ON rate_buckets (updated_at);
