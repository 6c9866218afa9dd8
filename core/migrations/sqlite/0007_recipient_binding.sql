-- Recipient binding ("only @bob can open it"): the platform user a secret is bound to, as JSON
-- ({"provider","team","user","name"}); NULL when anyone holding the link may open it. Set at
-- creation only.
ALTER TABLE secrets ADD COLUMN bound_to TEXT;

-- Who revealed a bound secret: the identity they signed in with (JSON, as above), for the owner's
-- view log. NULL for secrets that are not bound.
ALTER TABLE views ADD COLUMN viewer TEXT;

-- Sign-in tickets: what the sign-in callback hands the reveal page, standing for a signed-in
-- platform user for one reveal of one secret. Only the SHA-256 of a ticket is stored. No foreign
-- key: the callback issues a ticket for whatever id the page names, without telling whether it
-- exists (DESIGN §7.1); the reveal checks the ticket against the secret.
CREATE TABLE sign_in_tickets (
    hash        BLOB PRIMARY KEY NOT NULL,
    secret_id   TEXT NOT NULL,
    identity    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sign_in_tickets_expiry ON sign_in_tickets (expires_at);
