//! The reviewers' page: server-rendered HTML (maud escapes every value,
//! so a command line is always text, never markup), a little vanilla JS
//! for live updates over SSE, and a CSRF token on every form.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use futures_util::stream::Stream;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use serde_json::Value;
use tokio_stream::StreamExt as _;

use super::auth;
use super::serve::{decide, ms_text, record, sign_in, App, DecisionForm, ListQuery, Shared};
use super::shown::shown;
use super::store::{now_ms, Request};

const LOGIN_COOKIE: &str = "guard_login";
const PRELOGIN_COOKIE: &str = "guard_prelogin";

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/requests/{id}", get(request_page))
        .route("/requests/{id}/decide", post(decide_form))
        .route("/sessions/{id}", get(session_page))
        .route("/history", get(history_page))
        .route("/events", get(events))
        .route("/fragment/pending", get(pending_fragment))
        .route(
            "/static/app.css",
            get(|| async { ([(CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }),
        )
        .route(
            "/static/app.js",
            get(|| async { ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], JS) }),
        )
}

/// Headers on every answer. The page loads only its own script and
/// style (no inline code, so injected markup could not run even if it got
/// through), cannot be framed, and is not cached.
pub async fn harden(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    for (k, v) in [
        (
            "content-security-policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        h.insert(
            axum::http::HeaderName::from_static(k),
            axum::http::HeaderValue::from_static(v),
        );
    }
    resp
}

/// The reviewer a trusted reverse proxy vouches for, when that is on:
/// the header counts only on a connection from one of the configured
/// proxies, and only for a name that is a reviewer account.
pub async fn proxy_user(app: &App, headers: &HeaderMap, peer: SocketAddr) -> Option<String> {
    let name = app.config.trusted_header.as_deref()?;
    if !app.config.trusted_proxies.contains(&peer.ip()) {
        return None;
    }
    let user = headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 64)?;
    match app.store.reviewer_hash(user).await {
        Ok(Some(_)) => Some(user.to_string()),
        _ => None,
    }
}

/// A signed-in reviewer and the token their forms must carry.
struct Reviewer {
    name: String,
    csrf: String,
}

async fn reviewer(
    app: &App,
    headers: &HeaderMap,
    jar: &CookieJar,
    peer: SocketAddr,
) -> Option<Reviewer> {
    if let Some(name) = proxy_user(app, headers, peer).await {
        // No login row behind a proxy: the token is bound to the name
        // by the secret, which a page on another site cannot know.
        let csrf = crate::approve::webhook::sign(&app.secret, format!("csrf:{name}").as_bytes());
        return Some(Reviewer { name, csrf });
    }
    let token = jar.get(LOGIN_COOKIE)?.value().to_string();
    let (name, csrf) = app.store.login(&token).await.ok()??;
    Some(Reviewer { name, csrf })
}

/// The reviewer posting a form, if signed in and the form carries their
/// CSRF token.
async fn form_reviewer(
    app: &App,
    headers: &HeaderMap,
    jar: &CookieJar,
    peer: SocketAddr,
    csrf: &str,
) -> Result<Reviewer, Response> {
    let Some(who) = reviewer(app, headers, jar, peer).await else {
        return Err(to_login());
    };
    if !auth::same(csrf, &who.csrf) {
        return Err((StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response());
    }
    Ok(who)
}

fn page(title: &str, who: Option<&Reviewer>, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · guard approver" }
                    link rel="stylesheet" href="/static/app.css";
                }
                body {
                    header {
                        strong { "guard approver" }
                        nav {
                            a href="/" { "Pending" }
                            a href="/history" { "History" }
                        }
                        @if let Some(r) = who {
                            form method="post" action="/logout" class="inline" {
                                input type="hidden" name="csrf" value=(r.csrf);
                                span.who { (r.name) }
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                    main { (body) }
                    script src="/static/app.js" defer {}
                }
            }
        }
        .into_string(),
    )
}

const CSS: &str = r#"
body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
header{display:flex;flex-wrap:wrap;gap:.8em;align-items:center;padding:.6em 1em;background:#1b1f24;color:#fff}
header a{color:#cde;margin-right:.8em}header .who{margin:0 .5em}
main{max-width:60em;margin:0 auto;padding:1em}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1em;margin-bottom:1em}
pre{white-space:pre-wrap;word-break:break-all;background:#f0f2f4;padding:.5em;border-radius:4px}
.risk-high,.risk-critical{color:#b00020;font-weight:bold}.risk-medium{color:#9a6700}
.meta{color:#57606a;font-size:.9em}.left{font-weight:bold}
form.decide{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin-top:.6em}
form.decide input[name=reason]{flex:1 1 12em;min-width:0;padding:.4em}
button{padding:.45em .9em;border-radius:4px;border:1px solid #888;background:#fff}
button.allow{background:#1a7f37;color:#fff;border-color:#1a7f37}button.deny{background:#cf222e;color:#fff;border-color:#cf222e}
.inline{display:inline}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3em;border-bottom:1px solid #eee;vertical-align:top}
.state-allow{color:#1a7f37}.state-deny{color:#cf222e}.error{color:#cf222e;font-weight:bold}
@media (max-width:600px){main{padding:.5em}table{font-size:.85em}}
"#;

/// Live updates: the pending list is fetched again whenever the server
/// says something changed, unless the reviewer is typing a reason.
const JS: &str = r#"
(function(){
  function tick(){document.querySelectorAll('[data-expires]').forEach(function(e){
    var s=Math.max(0,Math.round((+e.dataset.expires-Date.now())/1000));
    e.textContent=s>0?(Math.floor(s/60)+'m '+(s%60)+'s left'):'expired';});}
  setInterval(tick,1000);tick();
  var list=document.getElementById('pending');
  if(!list||!window.EventSource)return;
  var stale=false;
  function refresh(){
    var a=document.activeElement;
    if(a&&list.contains(a)&&a.tagName==='INPUT'){stale=true;return;}
    fetch('/fragment/pending',{credentials:'same-origin'}).then(function(r){return r.ok?r.text():null})
      .then(function(t){if(t!==null){list.innerHTML=t;tick();}});
  }
  document.addEventListener('focusout',function(){if(stale){stale=false;setTimeout(refresh,0);}});
  new EventSource('/events').onmessage=refresh;
})();
"#;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn card(r: &Request, who: &Reviewer, detail: bool) -> Markup {
    let b = &r.body;
    let session = &b["session"];
    html! {
        div.card id={"req-" (r.id)} data-id=(r.id) {
            div.meta {
                (shown(&r.user, false)) "@" (shown(&r.host, false)) " in " code { (shown(s(&b["cwd"]), false)) }
                " · "
                @if r.state == "pending" {
                    span.left data-expires=(r.expires_at) { (((r.expires_at - now_ms()) / 1000).max(0)) "s left" }
                } @else {
                    span class={"state-" (r.state)} { (r.state) } " by " (r.decided_by.as_deref().unwrap_or("?"))
                }
                " · " a href={"/requests/" (r.id)} { "#" (r.id) }
            }
            pre.command { "$ " (shown(&r.command, true)) }
            @let triggers: Vec<&str> = b["triggers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            @if !triggers.is_empty() {
                div { "Triggered by: " @for t in &triggers { code { (shown(t, false)) } " " } }
            }
            ul.matches {
                @for m in b["matches"].as_array().into_iter().flatten() {
                    li {
                        code { (s(&m["rule"])) } " "
                        span class={"risk-" (s(&m["risk"]))} { (s(&m["risk"])) }
                        " " (s(&m["action"])) ": " (shown(s(&m["message"]), false))
                    }
                }
            }
            div {
                "Purpose: " strong { (shown(session["purpose"].as_str().unwrap_or("(none given)"), false)) }
                @if let Some(bd) = session["boundary"].as_str() { " · boundary " strong { (bd) } }
                @if let Some(sid) = &r.session { " · session " a href={"/sessions/" (sid)} { (sid) } }
            }
            @let targets: Vec<String> = b["targets"].as_array().into_iter().flatten()
                .map(|t| format!("{} ({})", s(&t["boundary"]), s(&t["signal"]))).collect();
            @if !targets.is_empty() { div { "Targets: " (targets.join(", ")) } }
            @let grants: Vec<&str> = b["grants"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            div { "Credentials granted: " @if grants.is_empty() { "none" } @else { (grants.join(", ")) } }
            div { "Approvals: " (r.approvals()) " of " (r.required) " needed"
                @for v in &r.votes { " · " (v.reviewer) " " (v.vote) } }
            @if detail {
                @if let Some(reason) = &r.reason { div { "Reason: " (reason) } }
                details { summary { "Request as received" } pre { (serde_json::to_string_pretty(b).unwrap_or_default()) } }
            }
            @if r.state == "pending" {
                form.decide method="post" action={"/requests/" (r.id) "/decide"} {
                    input type="hidden" name="csrf" value=(who.csrf);
                    input type="text" name="reason" placeholder="reason (needed to deny)" aria-label="reason";
                    select name="scope" aria-label="scope" {
                        option value="once" { "once" }
                        @if r.session.is_some() { option value="session" { "this session" } }
                    }
                    button.allow type="submit" name="decision" value="allow" { "Approve" }
                    button.deny type="submit" name="decision" value="deny" { "Deny" }
                }
            }
        }
    }
}

fn pending_list(rows: &[Request], who: &Reviewer) -> Markup {
    html! {
        h1 { "Waiting for review (" (rows.len()) ")" }
        @if rows.is_empty() { p.meta { "Nothing is waiting." } }
        @for r in rows { (card(r, who, false)) }
    }
}

fn to_login() -> Response {
    Redirect::to("/login").into_response()
}

pub async fn pending_page(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let Some(who) = reviewer(&app, &headers, &jar, peer).await else {
        return to_login();
    };
    match app.store.pending().await {
        Ok(rows) => page(
            "Pending",
            Some(&who),
            html! { div id="pending" { (pending_list(&rows, &who)) } },
        )
        .into_response(),
        Err(_) => unavailable(),
    }
}

async fn pending_fragment(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let Some(who) = reviewer(&app, &headers, &jar, peer).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match app.store.pending().await {
        Ok(rows) => Html(pending_list(&rows, &who).into_string()).into_response(),
        Err(_) => unavailable(),
    }
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response()
}

async fn request_page(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(id): Path<String>,
) -> Response {
    let Some(who) = reviewer(&app, &headers, &jar, peer).await else {
        return to_login();
    };
    match app.store.get(&id).await {
        Ok(Some(r)) => page("Request", Some(&who), card(&r, &who, true)).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            page("Not found", Some(&who), html! { p { "No such request." } }),
        )
            .into_response(),
        Err(_) => unavailable(),
    }
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    decision: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

async fn decide_form(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Response {
    let who = match form_reviewer(&app, &headers, &jar, peer, &form.csrf).await {
        Ok(who) => who,
        Err(r) => return r,
    };
    let d = DecisionForm {
        decision: form.decision,
        scope: form.scope,
        reason: form.reason,
    };
    match decide(&app, &who.name, &id, &d).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err((status, why)) => (
            status,
            page(
                "Not counted",
                Some(&who),
                html! { p.error { (why) } p { a href="/" { "Back" } } },
            ),
        )
            .into_response(),
    }
}

fn timeline(rows: &[Request]) -> Markup {
    html! {
        table {
            tr { th { "Asked" } th { "Command" } th { "Rules" } th { "Decision" } th { "By" } th { "Reason" } }
            @for r in rows {
                tr {
                    td { (ms_text(r.received_at)) }
                    td { a href={"/requests/" (r.id)} { code { (shown(&r.command, false)) } } }
                    td { (r.rules.join(", ")) }
                    td class={"state-" (r.state)} { (r.state) @if let Some(sc) = &r.scope { " (" (sc) ")" } }
                    td { (r.decided_by.as_deref().unwrap_or("")) }
                    td { (r.reason.as_deref().unwrap_or("")) }
                }
            }
        }
    }
}

async fn session_page(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(id): Path<String>,
) -> Response {
    let Some(who) = reviewer(&app, &headers, &jar, peer).await else {
        return to_login();
    };
    let Ok(rows) = app.store.timeline(&id).await else {
        return unavailable();
    };
    let first = rows.first().map(|r| &r.body["session"]);
    let purpose = first
        .and_then(|s| s["purpose"].as_str())
        .unwrap_or("(none given)");
    let boundary = first.and_then(|s| s["boundary"].as_str());
    page(
        "Session",
        Some(&who),
        html! {
            h1 { "Session " (id) }
            p { "Purpose: " strong { (shown(purpose, false)) } @if let Some(b) = boundary { " · boundary " strong { (b) } } }
            p.meta { (rows.len()) " reviewed line(s), in order" }
            (timeline(&rows))
        },
    )
    .into_response()
}

async fn history_page(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<ListQuery>,
) -> Response {
    let Some(who) = reviewer(&app, &headers, &jar, peer).await else {
        return to_login();
    };
    let (rows, problem) = match q.filter() {
        Ok(f) => match app.store.list(&f).await {
            Ok(rows) => (rows, None),
            Err(_) => return unavailable(),
        },
        Err(e) => (Vec::new(), Some(e)),
    };
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    page(
        "History",
        Some(&who),
        html! {
            h1 { "History" }
            form method="get" action="/history" class="decide" {
                input name="session" placeholder="session" value=(v(&q.session));
                select name="state" {
                    @for st in ["any", "pending", "allow", "deny"] {
                        option value=(st) selected[q.state.as_deref() == Some(st)] { (st) }
                    }
                }
                input name="rule" placeholder="rule" value=(v(&q.rule));
                input name="reviewer" placeholder="reviewer" value=(v(&q.reviewer));
                input name="since" placeholder="since (1h, RFC 3339)" value=(v(&q.since));
                input name="until" placeholder="until" value=(v(&q.until));
                button type="submit" { "Filter" }
            }
            @if let Some(p) = problem { p.error { (p) } }
            (timeline(&rows))
        },
    )
    .into_response()
}

async fn events(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, StatusCode> {
    if reviewer(&app, &headers, &jar, peer).await.is_none() {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let rx = tokio_stream::wrappers::BroadcastStream::new(app.hub.events.subscribe());
    let stream = rx.map(|m| Ok(Event::default().data(m.unwrap_or_else(|_| "lagged".to_string()))));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A cookie only this site's pages send back; `Secure` when the page is
/// served over https (`public_url`).
fn cookie(app: &App, name: &'static str, value: String) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Strict);
    c.set_path("/");
    if app
        .config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
    {
        c.set_secure(true);
    }
    c
}

async fn login_page(State(app): State<Shared>, jar: CookieJar) -> Response {
    login_form(&app, jar, None)
}

fn login_form(app: &App, jar: CookieJar, problem: Option<&str>) -> Response {
    // Login CSRF: the form carries the same random value as a cookie
    // only this site can set.
    let Ok(token) = auth::token() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let jar = jar.add(cookie(app, PRELOGIN_COOKIE, token.clone()));
    let status = if problem.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    (
        status,
        jar,
        page(
            "Sign in",
            None,
            html! {
                h1 { "Sign in" }
                @if let Some(p) = problem { p.error { (p) } }
                form method="post" action="/login" class="card" {
                    input type="hidden" name="csrf" value=(token);
                    p { label { "Name " input name="user" autocomplete="username" autofocus; } }
                    p { label { "Password " input type="password" name="password" autocomplete="current-password"; } }
                    button type="submit" { "Sign in" }
                }
            },
        ),
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    user: String,
    password: String,
}

async fn login(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = jar
        .get(PRELOGIN_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if expected.is_empty() || !auth::same(&form.csrf, &expected) {
        return (StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response();
    }
    let name = match sign_in(&app, &form.user, &form.password, peer).await {
        Ok(n) => n,
        Err((_, why)) => return login_form(&app, jar, Some(&why)),
    };
    let (Ok(token), Ok(csrf)) = (auth::token(), auth::token()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if app
        .store
        .create_login(&token, &name, &csrf, now_ms() + super::serve::LOGIN_TTL_MS)
        .await
        .is_err()
    {
        return unavailable();
    }
    let _ = record(
        &app,
        &serde_json::json!({"ts": jiff::Timestamp::now().to_string(), "event": "login",
                            "reviewer": name, "peer": peer.to_string()}),
    );
    let jar = jar
        .remove(Cookie::from(PRELOGIN_COOKIE))
        .add(cookie(&app, LOGIN_COOKIE, token));
    (jar, Redirect::to("/")).into_response()
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Err(r) = form_reviewer(&app, &headers, &jar, peer, &form.csrf).await {
        return r;
    }
    if let Some(c) = jar.get(LOGIN_COOKIE) {
        let _ = app.store.logout(c.value()).await;
    }
    (
        jar.remove(Cookie::from(LOGIN_COOKIE)),
        Redirect::to("/login"),
    )
        .into_response()
}
