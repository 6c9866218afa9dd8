-- The chat user a bot made a request for (like `secrets.notify`): copied into the answer's
-- secret, whose `seecret.request_answered` event then reaches that bot's sink.
ALTER TABLE requests ADD COLUMN notify TEXT;
