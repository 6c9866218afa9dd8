-- An in-process subscriber (a chat bot embedded in the server) to tell about this secret's
-- events, e.g. `slack:T012:U345`. Events for it go to the outbox as `internal:<notify>`.
ALTER TABLE secrets ADD COLUMN notify TEXT;

-- Chat-app installations (a Slack workspace that installed the app through OAuth): the bot token,
-- sealed with a key from the configuration and bound to (provider, team), never in clear.
CREATE TABLE installations (
    provider    TEXT NOT NULL,
    team        TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, team)
);
