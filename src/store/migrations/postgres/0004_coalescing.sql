-- Coalescing (issue 13): when the current burst of changes to a pending job began (BIGINT Unix
-- milliseconds, as in 0001). Set by the first enqueue of content not yet claimed, kept by later
-- enqueues, cleared when the job is claimed; NULL for rows written before this migration (the
-- next enqueue treats that as a new burst). See `store::policy`.
ALTER TABLE jobs ADD COLUMN burst_started_at BIGINT;
