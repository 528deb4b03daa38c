-- The approver's state. Portable SQL: the same file migrates SQLite and
-- PostgreSQL. Times are Unix milliseconds.

-- Every review guard asked for, with its body exactly as received (unknown
-- fields are kept: the protocol is versioned).
CREATE TABLE requests (
    id          TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    command     TEXT NOT NULL,
    agent       TEXT NOT NULL,
    host        TEXT NOT NULL,
    session_id  TEXT,
    owner       TEXT,
    rules       TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    required    BIGINT NOT NULL,
    state       TEXT NOT NULL,
    scope       TEXT,
    reason      TEXT,
    decided_by  TEXT,
    received_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    decided_at  BIGINT
);
CREATE INDEX requests_by_state ON requests (state, received_at);
CREATE INDEX requests_by_session ON requests (session_id, received_at);

-- One vote per reviewer per request: the key is what stops a reviewer who
-- clicks twice from counting twice.
CREATE TABLE votes (
    request_id TEXT NOT NULL,
    reviewer   TEXT NOT NULL,
    vote       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    reason     TEXT,
    at         BIGINT NOT NULL,
    PRIMARY KEY (request_id, reviewer)
);

CREATE TABLE reviewers (
    name       TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Reviewer logins (cookie or bearer token), each with its CSRF token.
CREATE TABLE logins (
    token      TEXT PRIMARY KEY,
    reviewer   TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- "Allow for this session", kept server-side: the same commands in the
-- same session are answered without asking again.
CREATE TABLE session_grants (
    session_id  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    reviewers   TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (session_id, fingerprint)
);
