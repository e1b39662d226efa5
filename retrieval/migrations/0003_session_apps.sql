-- A session belongs to the app (the HTTP API key's tenant) that started it; '' for local use
-- (Python, CLI, web UI). Expiry deletes sessions by age.
ALTER TABLE sessions ADD COLUMN app TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_by_age ON sessions (updated_at);
