-- A chat bot's "recent shares": what one of its users shared (`notify`, e.g. `slack:T012:U345`),
-- newest first.
CREATE INDEX secrets_by_notify ON secrets (notify, id) WHERE notify IS NOT NULL;

-- What a workspace's admins chose for a chat app (a JSON object, e.g. {"dm_links": false}),
-- beside its installation. No row: the server's defaults.
CREATE TABLE workspace_settings (
    provider    TEXT NOT NULL,
    team        TEXT NOT NULL,
    settings    TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, team)
);

-- Platform events a bot has handled (Slack delivers an event again, with the same id, when it
-- thinks the first delivery failed): claimed once across instances, forgotten after a day.
CREATE TABLE bot_events (
    event_key   TEXT PRIMARY KEY,
    seen_at     INTEGER NOT NULL
);
