//! `guard approver serve`: the HTTP side. Three faces on one port:
//! - the webhook protocol guard speaks (signed POST, signed long-poll);
//! - a JSON API for reviewers (`/api/v1/…`, Basic or Bearer);
//! - the page (`/`, cookie login, CSRF token on every form).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{self, Limiter};
use super::config::Config;
use super::store::{Ballot, Filter, Inserted, Refusal, Request, Store, VoteError};
use super::wake::Hub;
use super::{notify, policy, web};
use crate::approve::webhook::{self, SIGNATURE_HEADER};

/// Largest request body taken; guard's own are a few KiB.
pub const BODY_LIMIT: usize = 256 * 1024;
/// How long a poll is held open before it is told to ask again.
const LONG_POLL: Duration = Duration::from_secs(20);
/// A held poll re-reads the database this often, in case a notice from
/// another process was lost.
const RECHECK: Duration = Duration::from_secs(5);
/// Reviewer logins last this long.
pub const LOGIN_TTL_MS: i64 = 12 * 3600 * 1000;

pub struct App {
    pub store: Store,
    pub hub: Arc<Hub>,
    pub config: Config,
    pub secret: Vec<u8>,
    pub limiter: Limiter,
    pub audit_dir: PathBuf,
}

pub type Shared = Arc<App>;

pub struct Options {
    pub listen: String,
    pub database: String,
    pub secret_file: PathBuf,
    pub config: Option<PathBuf>,
    pub audit_dir: PathBuf,
}

pub fn main(opts: Options) -> Result<(), String> {
    let secret = webhook::read_secret(&opts.secret_file)?;
    let config = match &opts.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    // Every held poll is an open socket: take all the descriptors the
    // hard limit allows.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let store = Store::open(&opts.database)
            .await
            .map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&opts.audit_dir)
            .map_err(|e| format!("audit dir {}: {e}", opts.audit_dir.display()))?;
        let hub = Arc::new(Hub::default());
        if let Some(url) = store.postgres.clone() {
            tokio::spawn(super::wake::listen(url, Arc::clone(&hub)));
        }
        let app = Arc::new(App {
            store,
            hub,
            config,
            secret,
            limiter: Limiter::default(),
            audit_dir: opts.audit_dir,
        });
        tokio::spawn(sweep(Arc::clone(&app)));
        let listener = tokio::net::TcpListener::bind(&opts.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("guard approver listening on http://{addr}");
        axum::serve(
            listener,
            router(app).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server: {e}"))
    })
}

pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(web::pending_page).post(submit))
        .route("/v1/requests", post(submit))
        .route("/approve", post(submit))
        .route("/poll/{id}", get(poll))
        .route("/api/v1/login", post(api_login))
        .route("/api/v1/requests", get(api_list))
        .route("/api/v1/requests/{id}", get(api_show))
        .route("/api/v1/requests/{id}/decision", post(api_decide))
        .merge(web::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(web::harden))
        .with_state(app)
}

/// Wake `id`'s polls here and in every process sharing the database.
async fn decided(app: &App, id: &str) {
    app.hub.decided(id);
    app.store.announce(&format!("decided:{id}")).await;
}

/// Deny every pending request whose time is up, and say so.
async fn expire(app: &App) -> Result<(), super::store::StoreError> {
    for id in app.store.expire().await? {
        decided(app, &id).await;
    }
    Ok(())
}

/// Deny what has run out of time, once a second.
async fn sweep(app: Shared) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Err(e) = expire(&app).await {
            eprintln!("guard approver: expiry sweep: {e}");
        }
    }
}

/// A JSON answer signed with the shared secret, as guard requires.
fn signed(app: &App, status: StatusCode, body: &Value) -> Response {
    let text = body.to_string();
    let sig = webhook::sign(&app.secret, text.as_bytes());
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::HeaderName::from_static("x-guard-signature"), sig),
        ],
        text,
    )
        .into_response()
}

fn error(status: StatusCode, why: &str) -> Response {
    (status, Json(json!({ "error": why }))).into_response()
}

/// Record something a reviewer or a client did, in the approver's own
/// hash-chained log.
pub fn record(app: &App, body: &Value) -> Result<(), String> {
    crate::audit::chain::append_in(
        &app.audit_dir,
        body,
        crate::audit::Flush::Sync,
        &crate::rules::spec::AuditSpec::default(),
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

fn now_text() -> String {
    jiff::Timestamp::now().to_string()
}

fn rejected(app: &App, peer: SocketAddr, what: &str) {
    eprintln!("guard approver: refused {what} from {peer}");
    let _ = record(
        app,
        &json!({"ts": now_text(), "event": "rejected", "peer": peer.to_string(), "reason": what}),
    );
}

fn poll_answer(app: &App, id: &str) -> Response {
    signed(
        app,
        StatusCode::ACCEPTED,
        &json!({"poll_url": format!("/poll/{id}"), "retry_after_ms": 50}),
    )
}

fn answer(app: &App, r: &Request) -> Response {
    match r.decision() {
        Some(d) => signed(app, StatusCode::OK, &d),
        None => poll_answer(app, &r.id),
    }
}

/// POST: a new request from guard.
async fn submit(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sig = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !webhook::verify(&app.secret, &body, sig) {
        rejected(
            &app,
            peer,
            if sig.is_empty() {
                "an unsigned request"
            } else {
                "a mis-signed request"
            },
        );
        return signed(
            &app,
            StatusCode::UNAUTHORIZED,
            &json!({"error": "bad signature"}),
        );
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return signed(
            &app,
            StatusCode::BAD_REQUEST,
            &json!({"error": "body is not UTF-8"}),
        );
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return signed(
                &app,
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("not JSON: {e}")}),
            )
        }
    };
    let summary = match policy::summarize(&value) {
        Ok(s) => s,
        Err(e) => return signed(&app, StatusCode::BAD_REQUEST, &json!({"error": e})),
    };
    let required = policy::required(&app.config, &summary);
    match app.store.insert(&summary, text, required).await {
        Ok(Inserted::New(r)) => {
            let _ = record(
                &app,
                &json!({"ts": now_text(), "event": "request", "request": r.id, "command": r.command,
                        "user": r.user, "session": r.session, "required": r.required, "state": r.state}),
            );
            if r.state == "pending" {
                app.hub.arrived(&r.id);
                app.store.announce(&format!("new:{}", r.id)).await;
                notify::send(&app.config.notify, &r, app.config.public_url.as_deref());
            }
            answer(&app, &r)
        }
        Ok(Inserted::Existing(r)) => answer(&app, &r),
        Err(e) => {
            eprintln!("guard approver: {e}");
            signed(
                &app,
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": "storage unavailable"}),
            )
        }
    }
}

/// GET: guard's poll, held until the request is decided, it expires, or
/// `LONG_POLL` passes.
async fn poll(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let sig = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !webhook::verify(&app.secret, format!("http://{host}{uri}").as_bytes(), sig) {
        rejected(&app, peer, "a poll with a bad signature");
        return signed(
            &app,
            StatusCode::UNAUTHORIZED,
            &json!({"error": "bad signature"}),
        );
    }
    let until = tokio::time::Instant::now() + LONG_POLL;
    loop {
        let notify = app.hub.register(&id);
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let r = match app.store.get(&id).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return signed(
                    &app,
                    StatusCode::NOT_FOUND,
                    &json!({"error": "unknown request"}),
                )
            }
            Err(e) => {
                eprintln!("guard approver: {e}");
                return signed(
                    &app,
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"error": "storage unavailable"}),
                );
            }
        };
        if r.decision().is_some() {
            return answer(&app, &r);
        }
        let left_ms = r.expires_at - super::store::now_ms();
        if left_ms <= 0 {
            // Decide it now rather than wait for the sweep.
            // A storage error shows on the next read.
            let _ = expire(&app).await;
            continue;
        }
        let now = tokio::time::Instant::now();
        if now >= until {
            return poll_answer(&app, &id);
        }
        let wake_at = until
            .min(now + RECHECK)
            .min(now + Duration::from_millis(left_ms.unsigned_abs()));
        tokio::select! {
            _ = &mut woken => {}
            _ = tokio::time::sleep_until(wake_at) => {}
        }
    }
}

/// Who is calling the JSON API: a trusted proxy's header, HTTP Basic, or
/// a Bearer token from `/api/v1/login`. Cookies are not taken here, so a
/// page on another site cannot make a reviewer's browser vote.
async fn api_reviewer(
    app: &App,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<String, Response> {
    if let Some(name) = web::proxy_user(app, headers, peer).await {
        return Ok(name);
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(token) = auth.strip_prefix("Bearer ") {
        return match app.store.login(token.trim()).await {
            Ok(Some((name, _))) => Ok(name),
            Ok(None) => Err(error(StatusCode::UNAUTHORIZED, "login expired or unknown")),
            Err(_) => Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable",
            )),
        };
    }
    if let Some(b64) = auth.strip_prefix("Basic ") {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
            return sign_in(app, user, password, peer)
                .await
                .map_err(|(s, why)| error(s, &why));
        }
    }
    Err((
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"guard approver\"")],
        Json(json!({"error": "sign in first"})),
    )
        .into_response())
}

/// Check a reviewer's password, under the failed-login limit.
pub async fn sign_in(
    app: &App,
    user: &str,
    password: &str,
    peer: SocketAddr,
) -> Result<String, (StatusCode, String)> {
    // Names are short (user add takes 64 at most); a longer one is not
    // an account, and is not worth a key of its own.
    let name_key = if user.len() <= 64 {
        format!("user:{user}")
    } else {
        "user:(too long)".to_string()
    };
    let keys = [name_key, format!("addr:{}", peer.ip())];
    let Some(attempt) = app.limiter.attempt(&keys) else {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins; try again later".to_string(),
        ));
    };
    if user.len() > 64 {
        return Err((
            StatusCode::UNAUTHORIZED,
            "wrong name or password".to_string(),
        ));
    }
    let hash = app.store.reviewer_hash(user).await.map_err(|_| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "storage unavailable".to_string(),
        )
    })?;
    let password = password.to_string();
    let checked = hash
        .clone()
        .unwrap_or_else(|| auth::decoy_hash().to_string());
    // argon2 is slow on purpose: off the async workers.
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &checked))
        .await
        .unwrap_or(false);
    if ok && hash.is_some() {
        app.limiter.succeeded(&keys, attempt);
        return Ok(user.to_string());
    }
    let _ = record(
        app,
        &json!({"ts": now_text(), "event": "login_failed", "reviewer": user, "peer": peer.to_string()}),
    );
    Err((
        StatusCode::UNAUTHORIZED,
        "wrong name or password".to_string(),
    ))
}

#[derive(Deserialize)]
struct LoginBody {
    user: String,
    password: String,
}

async fn api_login(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<LoginBody>,
) -> Response {
    let name = match sign_in(&app, &body.user, &body.password, peer).await {
        Ok(n) => n,
        Err((s, why)) => return error(s, &why),
    };
    let (Ok(token), Ok(csrf)) = (auth::token(), auth::token()) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no randomness");
    };
    let expires = super::store::now_ms() + LOGIN_TTL_MS;
    if app
        .store
        .create_login(&token, &name, &csrf, expires)
        .await
        .is_err()
    {
        return error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable");
    }
    Json(json!({"token": token, "reviewer": name})).into_response()
}

/// A request as the API shows it: its stored body (unknown fields and
/// all) beside where it stands.
pub fn view(r: &Request) -> Value {
    json!({
        "id": r.id,
        "command": r.command,
        "user": r.user,
        "host": r.host,
        "session": r.session,
        "owner": r.owner,
        "rules": r.rules,
        "state": r.state,
        "approvals": r.approvals(),
        "required": r.required,
        "votes": r.votes,
        "scope": r.scope,
        "reason": r.reason,
        "decided_by": r.decided_by,
        "received_at": ms_text(r.received_at),
        "expires_at": ms_text(r.expires_at),
        "decided_at": r.decided_at.map(ms_text),
        "request": r.body,
    })
}

pub fn ms_text(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    pub state: Option<String>,
    pub session: Option<String>,
    pub rule: Option<String>,
    pub reviewer: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<i64>,
}

impl ListQuery {
    /// Empty form fields are no filter; times are RFC 3339 or a span
    /// back from now (`1h`).
    pub fn filter(&self) -> Result<Filter, String> {
        let some = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
        let time = |s: &Option<String>| -> Result<Option<i64>, String> {
            match some(s) {
                None => Ok(None),
                Some(t) => crate::audit::query::since(&t).map(|ts| Some(ts.as_millisecond())),
            }
        };
        Ok(Filter {
            state: some(&self.state).filter(|s| s != "any"),
            session: some(&self.session),
            rule: some(&self.rule),
            reviewer: some(&self.reviewer),
            since: time(&self.since)?,
            until: time(&self.until)?,
            limit: self.limit,
        })
    }
}

async fn api_list(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = api_reviewer(&app, &headers, peer).await {
        return r;
    }
    let f = match q.filter() {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    match app.store.list(&f).await {
        Ok(rows) => Json(rows.iter().map(view).collect::<Vec<_>>()).into_response(),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable"),
    }
}

async fn api_show(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = api_reviewer(&app, &headers, peer).await {
        return r;
    }
    match app.store.get(&id).await {
        Ok(Some(r)) => Json(view(&r)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such request"),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable"),
    }
}

#[derive(Deserialize)]
pub struct DecisionForm {
    pub decision: String,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

async fn api_decide(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(form): Json<DecisionForm>,
) -> Response {
    let reviewer = match api_reviewer(&app, &headers, peer).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    match decide(&app, &reviewer, &id, &form).await {
        Ok(r) => Json(view(&r)).into_response(),
        Err((s, why)) => error(s, &why),
    }
}

/// One reviewer's vote, from the API or the page.
pub async fn decide(
    app: &App,
    reviewer: &str,
    id: &str,
    form: &DecisionForm,
) -> Result<Request, (StatusCode, String)> {
    let allow = match form.decision.as_str() {
        "allow" | "approve" => true,
        "deny" => false,
        other => {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("decision must be allow or deny, not `{other}`"),
            ))
        }
    };
    let scope = form
        .scope
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("once");
    if !matches!(scope, "once" | "session") {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("scope must be once or session, not `{scope}`"),
        ));
    }
    let reason = form
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if !allow && reason.is_none() {
        return Err((StatusCode::BAD_REQUEST, "a deny needs a reason".to_string()));
    }
    let config = &app.config;
    let may = |r: &Request| policy::self_approval(config, reviewer, &r.user, r.owner.as_deref());
    let audit = |r: &Request, outcome: &str| {
        record(
            app,
            &json!({"ts": now_text(), "event": "vote", "reviewer": reviewer, "request": r.id,
                    "command": r.command, "user": r.user, "session": r.session,
                    "vote": if allow { "allow" } else { "deny" }, "scope": scope,
                    "reason": reason, "outcome": outcome}),
        )
    };
    let ballot = Ballot {
        reviewer,
        allow,
        scope,
        reason,
    };
    match app.store.vote(id, &ballot, &may, &audit).await {
        Ok(r) => {
            if r.state != "pending" {
                decided(app, id).await;
            } else {
                let _ = app.hub.events.send(format!("voted:{id}"));
            }
            Ok(r)
        }
        Err(VoteError::Refused(refusal)) => {
            let _ = record(
                app,
                &json!({"ts": now_text(), "event": "vote_refused", "reviewer": reviewer,
                        "request": id, "reason": refusal.to_string()}),
            );
            let status = match refusal {
                Refusal::Unknown => StatusCode::NOT_FOUND,
                Refusal::SelfApproval(_) => StatusCode::FORBIDDEN,
                Refusal::Expired => StatusCode::GONE,
                Refusal::Decided(_) | Refusal::AlreadyVoted(_) => StatusCode::CONFLICT,
            };
            Err((status, refusal.to_string()))
        }
        Err(e) => {
            eprintln!("guard approver: {e}");
            Err((StatusCode::SERVICE_UNAVAILABLE, format!("not decided: {e}")))
        }
    }
}
