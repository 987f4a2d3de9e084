-- People and systems that use the HTTP API. A token is shown once when issued; only its SHA-256 is
-- kept (tokens are 256 random bits, so a slow hash adds nothing and every request looks one up).
CREATE TABLE api_users (
    name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    role        text NOT NULL CHECK (role IN ('auditor', 'operator', 'admin')),
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    revoked_at  timestamptz
);
