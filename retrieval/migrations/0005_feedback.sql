-- Feedback on a recommendation card, the latest per person and item: "up" (more like this),
-- "down" (not for me), "owned" (already have it). Each is also one of the person's interactions
-- (`interaction_id`), the record that the ranking's history, friends' activity and training read.
CREATE TABLE feedback (
    catalog TEXT NOT NULL,
    user_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    signal TEXT NOT NULL CHECK (signal IN ('up', 'down', 'owned')),
    interaction_id TEXT NOT NULL,
    session_id TEXT,                        -- the conversation whose card it was, if given
    created_at TEXT NOT NULL,
    PRIMARY KEY (catalog, user_id, item_id),
    FOREIGN KEY (catalog, item_id) REFERENCES items(catalog, id)
);
