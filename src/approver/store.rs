//! The approver's storage, through sqlx: SQLite (one file, created on
//! first start) or PostgreSQL, chosen by the URL. Every statement is
//! parameterised, and every decision is one transaction: a vote either
//! lands with its effect on the request or not at all.

use serde::Serialize;
use serde_json::Value;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row as _};

use super::policy::Summary;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Setup(String),
}

/// Why a vote was not counted. Each is the one line a reviewer sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such request")]
    Unknown,
    #[error("already decided: {0}")]
    Decided(String),
    #[error("the request expired before it was decided")]
    Expired,
    #[error("{0}")]
    SelfApproval(String),
    #[error("{0} already approved this request; a second approval must come from someone else")]
    AlreadyVoted(String),
}

#[derive(Debug, thiserror::Error)]
pub enum VoteError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit: {0}")]
    Audit(String),
}

impl From<sqlx::Error> for VoteError {
    fn from(e: sqlx::Error) -> VoteError {
        VoteError::Store(StoreError::Db(e))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Vote {
    pub reviewer: String,
    pub vote: String,
    pub scope: String,
    pub reason: Option<String>,
    pub at: i64,
}

/// A stored request and where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub id: String,
    pub body: Value,
    pub command: String,
    pub user: String,
    pub host: String,
    pub session: Option<String>,
    pub owner: Option<String>,
    pub rules: Vec<String>,
    pub required: i64,
    /// `pending`, `allow` or `deny`.
    pub state: String,
    pub scope: Option<String>,
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    pub received_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
    pub votes: Vec<Vote>,
}

impl Request {
    pub fn approvals(&self) -> usize {
        self.votes.iter().filter(|v| v.vote == "allow").count()
    }

    /// The signed answer guard polls for, once decided: exactly the
    /// fields its decision body allows.
    pub fn decision(&self) -> Option<Value> {
        if self.state == "pending" {
            return None;
        }
        Some(serde_json::json!({
            "id": self.id,
            "decision": self.state,
            "approver": self.decided_by.clone().unwrap_or_else(|| "approver".to_string()),
            "reason": self.reason,
            "scope": self.scope.clone().unwrap_or_else(|| "once".to_string()),
        }))
    }
}

/// One reviewer's vote on one request.
#[derive(Debug, Clone, Copy)]
pub struct Ballot<'a> {
    pub reviewer: &'a str,
    pub allow: bool,
    /// `once` or `session`.
    pub scope: &'a str,
    pub reason: Option<&'a str>,
}

/// History filters; each one that is set must hold.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct Filter {
    pub state: Option<String>,
    pub session: Option<String>,
    pub rule: Option<String>,
    pub reviewer: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: Option<i64>,
}

pub struct Store {
    pool: AnyPool,
    /// The PostgreSQL URL, when that is the backend (for LISTEN/NOTIFY).
    pub postgres: Option<String>,
}

/// `sqlite:PATH` (created if missing, mode 0600) or `postgres://…`.
fn connect_url(url: &str) -> Result<(String, Option<String>), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((url.to_string(), Some(url.to_string())));
    }
    let Some(path) = url.strip_prefix("sqlite:") else {
        return Err(StoreError::Setup(format!(
            "database URL must be sqlite:PATH or postgres://…, not `{url}`"
        )));
    };
    let path = path.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() {
        return Err(StoreError::Setup("sqlite: needs a path".to_string()));
    }
    let file = std::path::Path::new(path);
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Setup(format!("{}: {e}", dir.display())))?;
    }
    // Reviewer password hashes and login tokens live here.
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| StoreError::Setup(format!("{path}: {e}")))?;
    Ok((format!("sqlite:{path}?mode=rwc"), None))
}

/// `SELECT <every column> FROM requests <rest>`, as one literal, so the
/// statement is static text.
macro_rules! select_requests {
    ($rest:literal) => {
        concat!(
            "SELECT id, body, command, agent, host, session_id, owner, rules, required, ",
            "state, scope, reason, decided_by, received_at, expires_at, decided_at FROM requests ",
            $rest
        )
    };
}

fn request(row: &AnyRow) -> Result<Request, sqlx::Error> {
    let body: String = row.try_get("body")?;
    let rules: String = row.try_get("rules")?;
    Ok(Request {
        id: row.try_get("id")?,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        command: row.try_get("command")?,
        user: row.try_get("agent")?,
        host: row.try_get("host")?,
        session: row.try_get("session_id")?,
        owner: row.try_get("owner")?,
        rules: rules.split_whitespace().map(str::to_string).collect(),
        required: row.try_get("required")?,
        state: row.try_get("state")?,
        scope: row.try_get("scope")?,
        reason: row.try_get("reason")?,
        decided_by: row.try_get("decided_by")?,
        received_at: row.try_get("received_at")?,
        expires_at: row.try_get("expires_at")?,
        decided_at: row.try_get("decided_at")?,
        votes: Vec::new(),
    })
}

/// How a new request was taken.
pub enum Inserted {
    New(Request),
    /// guard sent the same id again (a retry): the stored one stands.
    Existing(Request),
}

impl Store {
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, postgres) = connect_url(url)?;
        let sqlite = postgres.is_none();
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // Readers never wait for the one writer.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool, postgres })
    }

    pub async fn insert(
        &self,
        s: &Summary,
        body: &str,
        required: u32,
    ) -> Result<Inserted, StoreError> {
        if let Some(existing) = self.get(&s.id).await? {
            return Ok(Inserted::Existing(existing));
        }
        let now = now_ms();
        // Allowed for this session already: answered at once, recorded
        // as the reviewers who said so.
        let remembered: Option<String> = match &s.session_id {
            Some(sid) => sqlx::query(
                "SELECT reviewers FROM session_grants WHERE session_id = $1 AND fingerprint = $2",
            )
            .bind(sid)
            .bind(&s.fingerprint)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("reviewers"))
            .transpose()?,
            None => None,
        };
        // A grant made by fewer reviewers than this request needs does
        // not answer it.
        let remembered = remembered.filter(|who| who.split('+').count() >= required as usize);
        let (state, scope, decided_by, decided_at, reason) = match &remembered {
            Some(who) => (
                "allow",
                Some("session".to_string()),
                Some(who.clone()),
                Some(now),
                Some("allowed earlier for this session".to_string()),
            ),
            None => ("pending", None, None, None, None),
        };
        let done = sqlx::query(
            "INSERT INTO requests (id, body, command, agent, host, session_id, owner, rules, \
             fingerprint, required, state, scope, reason, decided_by, received_at, expires_at, \
             decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&s.id)
        .bind(body)
        .bind(&s.command)
        .bind(&s.agent)
        .bind(&s.host)
        .bind(&s.session_id)
        .bind(&s.owner)
        .bind(s.rules.join(" "))
        .bind(&s.fingerprint)
        .bind(i64::from(required))
        .bind(state)
        .bind(&scope)
        .bind(&reason)
        .bind(&decided_by)
        .bind(now)
        .bind(s.expires_at)
        .bind(decided_at)
        .execute(&self.pool)
        .await?;
        let stored = self
            .get(&s.id)
            .await?
            .ok_or_else(|| StoreError::Setup("request vanished after insert".to_string()))?;
        Ok(if done.rows_affected() == 1 {
            Inserted::New(stored)
        } else {
            Inserted::Existing(stored)
        })
    }

    pub async fn get(&self, id: &str) -> Result<Option<Request>, StoreError> {
        let row = sqlx::query(select_requests!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut r = request(&row)?;
        r.votes = self.votes(id).await?;
        Ok(Some(r))
    }

    async fn votes(&self, id: &str) -> Result<Vec<Vote>, StoreError> {
        let rows = sqlx::query(
            "SELECT reviewer, vote, scope, reason, at FROM votes WHERE request_id = $1 ORDER BY at, reviewer",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Vote {
                    reviewer: r.try_get("reviewer")?,
                    vote: r.try_get("vote")?,
                    scope: r.try_get("scope")?,
                    reason: r.try_get("reason")?,
                    at: r.try_get("at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Pending requests, oldest first.
    pub async fn pending(&self) -> Result<Vec<Request>, StoreError> {
        self.list(&Filter {
            state: Some("pending".to_string()),
            ..Filter::default()
        })
        .await
    }

    pub async fn list(&self, f: &Filter) -> Result<Vec<Request>, StoreError> {
        // Filters are bound, never spliced: only the placeholders' numbers
        // are written into the statement.
        let mut sql = select_requests!("WHERE 1 = 1").to_string();
        let mut texts: Vec<String> = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if let Some(s) = &f.state {
            sql.push_str(&format!(" AND state = {}", next()));
            texts.push(s.clone());
        }
        if let Some(s) = &f.session {
            sql.push_str(&format!(" AND session_id = {}", next()));
            texts.push(s.clone());
        }
        if let Some(r) = &f.rule {
            // Rules are stored space-separated; pad both sides so one id
            // never matches inside another.
            sql.push_str(&format!(
                " AND (' ' || rules || ' ') LIKE {} ESCAPE '\\'",
                next()
            ));
            texts.push(format!("% {} %", like_escape(r)));
        }
        if let Some(r) = &f.reviewer {
            sql.push_str(&format!(
                " AND id IN (SELECT request_id FROM votes WHERE reviewer = {})",
                next()
            ));
            texts.push(r.clone());
        }
        let since = f.since.map(|_| next());
        let until = f.until.map(|_| next());
        if let Some(p) = &since {
            sql.push_str(&format!(" AND received_at >= {p}"));
        }
        if let Some(p) = &until {
            sql.push_str(&format!(" AND received_at <= {p}"));
        }
        let pending_only = f.state.as_deref() == Some("pending");
        sql.push_str(if pending_only {
            " ORDER BY received_at ASC"
        } else {
            " ORDER BY received_at DESC"
        });
        sql.push_str(&format!(" LIMIT {}", f.limit.unwrap_or(500).clamp(1, 5000)));
        // Only placeholder numbers and fixed clauses were added to `sql`;
        // every value is bound below.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for t in &texts {
            q = q.bind(t.clone());
        }
        if let Some(s) = f.since {
            q = q.bind(s);
        }
        if let Some(u) = f.until {
            q = q.bind(u);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut r = request(row)?;
            r.votes = self.votes(&r.id).await?;
            out.push(r);
        }
        Ok(out)
    }

    /// A session's requests in the order they came.
    pub async fn timeline(&self, session: &str) -> Result<Vec<Request>, StoreError> {
        let mut rows = self
            .list(&Filter {
                session: Some(session.to_string()),
                limit: Some(5000),
                ..Filter::default()
            })
            .await?;
        rows.reverse();
        Ok(rows)
    }

    /// Count one reviewer's vote. `audit` runs inside the transaction,
    /// after every check: if the record cannot be written, nothing is
    /// decided.
    pub async fn vote(
        &self,
        id: &str,
        ballot: &Ballot<'_>,
        may_approve: &(dyn Fn(&Request) -> Option<String> + Sync),
        audit: &(dyn Fn(&Request, &str) -> Result<(), String> + Sync),
    ) -> Result<Request, VoteError> {
        let Ballot {
            reviewer,
            allow,
            scope,
            reason,
        } = *ballot;
        let mut tx = self.pool.begin().await?;
        // Take the row's lock first (PostgreSQL: a row lock; SQLite: the
        // write lock), so two reviewers' votes are counted one at a time.
        let locked = sqlx::query("UPDATE requests SET required = required WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // The time of the vote is when it holds the lock, not when it
        // started waiting for it.
        let now = now_ms();
        if locked.rows_affected() == 0 {
            return Err(Refusal::Unknown.into());
        }
        let row = sqlx::query(select_requests!("WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let req = request(&row)?;
        if req.state != "pending" {
            return Err(Refusal::Decided(req.state).into());
        }
        if now >= req.expires_at {
            return Err(Refusal::Expired.into());
        }
        if let Some(why) = may_approve(&req) {
            return Err(Refusal::SelfApproval(why).into());
        }
        let prior: Option<String> =
            sqlx::query("SELECT vote FROM votes WHERE request_id = $1 AND reviewer = $2")
                .bind(id)
                .bind(reviewer)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("vote"))
                .transpose()?;
        if prior.is_some() {
            return Err(Refusal::AlreadyVoted(reviewer.to_string()).into());
        }
        let vote = if allow { "allow" } else { "deny" };
        sqlx::query(
            "INSERT INTO votes (request_id, reviewer, vote, scope, reason, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(reviewer)
        .bind(vote)
        .bind(scope)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let approvers: Vec<(String, String)> = sqlx::query(
            "SELECT reviewer, scope FROM votes WHERE request_id = $1 AND vote = 'allow' ORDER BY at, reviewer",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("reviewer")?, r.try_get("scope")?)))
        .collect::<Result<_, sqlx::Error>>()?;
        // A single deny ends the request; enough distinct allows end it too.
        let outcome = if !allow {
            Some(("deny", "once".to_string(), reviewer.to_string()))
        } else if approvers.len() as i64 >= req.required {
            // Session scope only when every approving reviewer chose it.
            let scope = if approvers.iter().all(|(_, s)| s == "session") && req.session.is_some() {
                "session"
            } else {
                "once"
            };
            let names: Vec<&str> = approvers.iter().map(|(n, _)| n.as_str()).collect();
            Some(("allow", scope.to_string(), names.join("+")))
        } else {
            None
        };
        if let Some((state, scope, by)) = &outcome {
            sqlx::query(
                "UPDATE requests SET state = $1, scope = $2, decided_by = $3, reason = $4, decided_at = $5 WHERE id = $6",
            )
            .bind(*state)
            .bind(scope)
            .bind(by)
            .bind(reason)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if *state == "allow" && scope == "session" {
                if let Some(sid) = &req.session {
                    sqlx::query(
                        "INSERT INTO session_grants (session_id, fingerprint, reviewers, at) VALUES ($1, \
                         (SELECT fingerprint FROM requests WHERE id = $2), $3, $4) \
                         ON CONFLICT (session_id, fingerprint) DO NOTHING",
                    )
                    .bind(sid)
                    .bind(id)
                    .bind(by)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        let what = match &outcome {
            Some((state, _, _)) => format!("{vote}: request {state}"),
            None => format!("{vote}: {}/{} approvals", approvers.len(), req.required),
        };
        audit(&req, &what).map_err(VoteError::Audit)?;
        tx.commit().await?;
        self.get(id)
            .await?
            .ok_or(VoteError::Refused(Refusal::Unknown))
    }

    /// Deny every pending request whose time is up. Returns their ids.
    pub async fn expire(&self) -> Result<Vec<String>, StoreError> {
        let now = now_ms();
        let ids: Vec<String> =
            sqlx::query("SELECT id FROM requests WHERE state = 'pending' AND expires_at <= $1")
                .bind(now)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
        let mut done = Vec::new();
        for id in ids {
            let r = sqlx::query(
                "UPDATE requests SET state = 'deny', scope = 'once', decided_by = 'approver', \
                 reason = 'expired before enough reviewers approved', decided_at = $1 \
                 WHERE id = $2 AND state = 'pending'",
            )
            .bind(now)
            .bind(&id)
            .execute(&self.pool)
            .await?;
            if r.rows_affected() == 1 {
                done.push(id);
            }
        }
        Ok(done)
    }

    pub async fn add_reviewer(&self, name: &str, hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO reviewers (name, hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET hash = excluded.hash",
        )
        .bind(name)
        .bind(hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn reviewer_hash(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query("SELECT hash FROM reviewers WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("hash"))
            .transpose()?)
    }

    pub async fn create_login(
        &self,
        token: &str,
        reviewer: &str,
        csrf: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO logins (token, reviewer, csrf, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token)
        .bind(reviewer)
        .bind(csrf)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The reviewer and CSRF token of a live login.
    pub async fn login(&self, token: &str) -> Result<Option<(String, String)>, StoreError> {
        let row =
            sqlx::query("SELECT reviewer, csrf FROM logins WHERE token = $1 AND expires_at > $2")
                .bind(token)
                .bind(now_ms())
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("reviewer")?, r.try_get("csrf")?)),
            None => None,
        })
    }

    pub async fn logout(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM logins WHERE token = $1")
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Tell the other approver processes sharing this database.
    pub async fn announce(&self, payload: &str) {
        if self.postgres.is_some() {
            // A lost notice only delays a poll until its next re-check.
            let _ = sqlx::query("SELECT pg_notify('guard_approver', $1)")
                .bind(payload)
                .execute(&self.pool)
                .await;
        }
    }
}

/// `s` as a literal inside a LIKE pattern that uses `\` as its escape.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
