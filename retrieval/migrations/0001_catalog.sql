-- Catalog data: every table is keyed by the catalog it belongs to, so several catalogs
-- (demo, redial, lastfm, a shop's own) live side by side in one database.
CREATE TABLE catalogs (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE items (
    catalog TEXT NOT NULL REFERENCES catalogs(name),
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    category TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',        -- JSON array of lowercase strings
    price REAL,
    attributes TEXT NOT NULL DEFAULT '{}',  -- JSON object
    PRIMARY KEY (catalog, id)
);

CREATE TABLE users (
    catalog TEXT NOT NULL REFERENCES catalogs(name),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (catalog, id)
);

-- One row per direction, so "friends of X" is one indexed lookup.
CREATE TABLE friendships (
    catalog TEXT NOT NULL,
    user_id TEXT NOT NULL,
    friend_id TEXT NOT NULL,
    strength REAL NOT NULL DEFAULT 1.0,
    PRIMARY KEY (catalog, user_id, friend_id),
    FOREIGN KEY (catalog, user_id) REFERENCES users(catalog, id),
    FOREIGN KEY (catalog, friend_id) REFERENCES users(catalog, id)
);

CREATE TABLE interactions (
    catalog TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('view', 'like', 'purchase', 'rating', 'review')),
    rating REAL,
    text TEXT NOT NULL DEFAULT '',
    timestamp TEXT,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'friends', 'private')),
    weight REAL NOT NULL DEFAULT 1.0,
    PRIMARY KEY (catalog, id),
    FOREIGN KEY (catalog, user_id) REFERENCES users(catalog, id),
    FOREIGN KEY (catalog, item_id) REFERENCES items(catalog, id)
);
CREATE INDEX interactions_by_user ON interactions (catalog, user_id);
CREATE INDEX interactions_by_item ON interactions (catalog, item_id);

CREATE TABLE help_articles (
    catalog TEXT NOT NULL REFERENCES catalogs(name),
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (catalog, id)
);

CREATE TABLE dialogues (
    catalog TEXT NOT NULL REFERENCES catalogs(name),
    id TEXT NOT NULL,
    user_id TEXT,
    turns TEXT NOT NULL,                    -- JSON array of {role, text, mentions}
    PRIMARY KEY (catalog, id)
);

-- Every ingest says what it loaded, from where, and how long it took.
CREATE TABLE ingests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    catalog TEXT NOT NULL REFERENCES catalogs(name),
    source TEXT NOT NULL,
    counts TEXT NOT NULL,                   -- JSON object: kind -> records
    finished_at TEXT NOT NULL,
    seconds REAL NOT NULL
);
