-- Each message's JSON is a typed record (bot.sessions.TurnRecord), validated when written and
-- when read; the rows of older versions read as records too (their unknown keys are ignored).
ALTER TABLE messages RENAME COLUMN data TO record;
