-- Conversations: profiles persist per user and catalog; sessions hold the turns of one chat.
CREATE TABLE profiles (
    catalog TEXT NOT NULL,
    user_id TEXT NOT NULL,
    profile TEXT NOT NULL,                  -- JSON of bot.profile.Profile
    updated_at TEXT NOT NULL,
    PRIMARY KEY (catalog, user_id)
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    catalog TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (catalog, user_id, updated_at);

CREATE TABLE messages (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',        -- JSON: recommendations, sentiment, tone
    created_at TEXT NOT NULL,
    PRIMARY KEY (session_id, position)
);
