//! The broker's JSON Schemas (`schemas/broker-*.schema.json`) against the
//! types in `guard::wire`, and the example exchanges in `docs/protocol.md`
//! against both. Other implementations are written from the schemas, so
//! a field added, renamed or made optional in Rust must fail here until
//! the schema says so too.
//!
//! There is no JSON Schema crate: the schemas use a small subset of the
//! keywords, and the checker below knows exactly that subset. A keyword
//! it does not know fails the test rather than being skipped, so the
//! schemas cannot grow rules nobody checks.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use guard::wire::{FileGrant, Reply, Request, Verdict};
use serde_json::{json, Value};

fn schema(name: &str) -> Value {
    let path = common::root().join("schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn requests() -> Value {
    schema("broker-request.schema.json")
}

fn replies() -> Value {
    schema("broker-reply.schema.json")
}

/// What a local `$ref` (`#/$defs/…`) points at; anything else is not ours.
fn target<'a>(root: &'a Value, r: &Value) -> &'a Value {
    let r = r.as_str().expect("$ref is a string");
    let pointer = r
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("non-local $ref {r}"));
    root.pointer(pointer)
        .unwrap_or_else(|| panic!("$ref {r} points nowhere"))
}

/// The oneOf branch whose `type` is `kind`.
fn branch<'a>(root: &'a Value, kind: &str) -> Option<&'a Value> {
    root["oneOf"]
        .as_array()
        .expect("a oneOf at the top")
        .iter()
        .find(|b| b["properties"]["type"]["const"] == kind)
}

/// Every `type` the schema has a branch for.
fn kinds(root: &Value) -> BTreeSet<String> {
    root["oneOf"]
        .as_array()
        .expect("a oneOf at the top")
        .iter()
        .map(|b| {
            b["properties"]["type"]["const"]
                .as_str()
                .expect("every branch fixes its type")
                .to_string()
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| a.iter().map(|k| k.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    out.sort_unstable();
    out
}

fn type_matches(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "integer" => v.is_i64() || v.is_u64(),
        other => panic!("type {other} is not one the broker schemas use"),
    }
}

/// Check `v` against schema `s` (the subset these schemas use), pushing
/// one line per problem.
fn check(root: &Value, v: &Value, s: &Value, at: &str, errors: &mut Vec<String>) {
    let obj = s.as_object().expect("a schema is an object");
    for key in obj.keys() {
        let known = [
            "$ref",
            "title",
            "description",
            "type",
            "const",
            "enum",
            "properties",
            "required",
            "additionalProperties",
            "items",
            "minimum",
            "maximum",
        ];
        assert!(
            known.contains(&key.as_str()),
            "{at}: keyword {key} is not checked here"
        );
    }
    // In 2020-12 a `$ref` applies beside its siblings, not instead.
    if let Some(r) = s.get("$ref") {
        check(root, v, target(root, r), at, errors);
    }
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_matches(v, t),
            Value::Array(ts) => ts.iter().any(|t| type_matches(v, t.as_str().unwrap())),
            _ => panic!("{at}: type is a string or a list"),
        };
        if !ok {
            errors.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(c) = s.get("const") {
        if v != c {
            errors.push(format!("{at}: {v} is not {c}"));
        }
    }
    if let Some(e) = s.get("enum") {
        if !e.as_array().unwrap().contains(v) {
            errors.push(format!("{at}: {v} is not one of {e}"));
        }
    }
    if let Some(n) = v.as_f64() {
        if s.get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            errors.push(format!("{at}: {v} is below the minimum"));
        }
        if s.get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            errors.push(format!("{at}: {v} is above the maximum"));
        }
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            check(root, x, items, &format!("{at}[{i}]"), errors);
        }
    }
    if let Some(o) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for k in strings(s.get("required").unwrap_or(&Value::Null)) {
            if !o.contains_key(&k) {
                errors.push(format!("{at}: required key {k} is missing"));
            }
        }
        for (k, x) in o {
            match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                (Some(p), _) => check(root, x, p, &format!("{at}.{k}"), errors),
                (None, Some(Value::Bool(false))) => {
                    errors.push(format!("{at}: key {k} is not in the schema"))
                }
                (None, Some(extra)) => check(root, x, extra, &format!("{at}.{k}"), errors),
                (None, None) => {}
            }
        }
    }
}

/// A message against its schema: its branch by `type`, then the whole
/// shape. Panics with every problem found.
fn conforms(root: &Value, body: &Value) {
    let kind = body["type"].as_str().expect("a message has a type");
    let Some(b) = branch(root, kind) else {
        panic!("type {kind} has no branch in the schema: {body}");
    };
    let mut errors = Vec::new();
    check(root, body, b, kind, &mut errors);
    assert!(errors.is_empty(), "{body}\n{}", errors.join("\n"));
}

/// Every way the wire types can be filled: each variant, once with every
/// optional field set and once with none.
fn request_examples() -> Vec<Request> {
    let env: BTreeMap<String, String> = [("HOME".to_string(), "/home/agent".to_string())].into();
    let mut out = vec![
        Request::Hello {
            id: 1,
            version: guard::wire::VERSION,
            client: "guard 0.1.0".into(),
        },
        Request::Decide {
            id: 2,
            mode: "-c".into(),
            line: Some("git status".into()),
            argv: None,
            login: true,
            starts_session: true,
            session: Some("h-4242-8811".into()),
            cwd: "/home/agent/app".into(),
            env_names: vec!["HOME".into(), "PATH".into()],
            env,
            scope: Some("alias ll='ls -l'".into()),
            tty: true,
        },
        Request::Decide {
            id: 2,
            mode: "argv".into(),
            line: None,
            argv: Some(vec!["git".into(), "status".into()]),
            login: false,
            starts_session: false,
            session: None,
            cwd: String::new(),
            env_names: Vec::new(),
            env: BTreeMap::new(),
            scope: None,
            tty: false,
        },
        Request::Tty {
            id: 2,
            present: true,
        },
        Request::File {
            id: 2,
            opened: false,
            error: Some("missing".into()),
        },
        Request::Env {
            id: 2,
            values: [("DEPLOY_ENV".to_string(), "staging".to_string())].into(),
        },
        Request::SessionStart {
            id: 2,
            purpose: "fix the staging health check".into(),
            boundary: Some("staging".into()),
            ttl: Some("30m".into()),
            grants: vec!["aws-staging".into()],
            json: true,
        },
        Request::SessionStart {
            id: 2,
            purpose: "look around".into(),
            boundary: None,
            ttl: None,
            grants: Vec::new(),
            json: false,
        },
        Request::SessionEnd {
            id: 2,
            session: "20261128T115502118034Z-79fdfa0e".into(),
        },
        Request::SessionStatus {
            id: 2,
            session: "20261128T115502118034Z-79fdfa0e".into(),
            json: true,
        },
        Request::SessionList { id: 2, json: false },
        Request::Status { id: 2 },
    ];
    // Every mode the broker accepts, so the schema's list of them cannot
    // lose one.
    for (mode, line) in [
        ("stdin", Some("make test")),
        ("file", Some("#!/bin/sh\nmake test\n")),
        ("interactive", Some("ll")),
        ("open", None),
    ] {
        out.push(Request::Decide {
            id: 2,
            mode: mode.into(),
            line: line.map(str::to_string),
            argv: None,
            login: false,
            starts_session: mode == "open",
            session: None,
            cwd: "/home/agent".into(),
            env_names: Vec::new(),
            env: BTreeMap::new(),
            scope: (mode == "interactive").then(|| "alias ll='ls -l'".to_string()),
            tty: mode == "open",
        });
    }
    out
}

/// A verdict with every field set, files included.
fn full_verdict() -> Verdict {
    Verdict {
        allow: true,
        code: 0,
        stderr: vec!["guard: note: a warning".into()],
        session: Some("h-4242-8811".into()),
        set_env: [("AWS_PROFILE".to_string(), "staging".to_string())].into(),
        unset_env: vec!["AWS_SECRET_ACCESS_KEY".into()],
        files: vec![FileGrant {
            credential: "kube-staging".into(),
            env: "KUBECONFIG".into(),
            name: "config".into(),
            dir: true,
            content: "apiVersion: v1\n".into(),
        }],
        shell: "/bin/bash".into(),
        startup_files: true,
        direct: Some(vec!["git".into(), "status".into()]),
        trace: false,
        seq: Some(41),
        live_sessions: vec!["h-4242-8811".into()],
    }
}

fn reply_examples() -> Vec<Reply> {
    vec![
        Reply::Hello {
            id: 1,
            version: guard::wire::VERSION,
            broker: "guard 0.1.0".into(),
            want_env: vec!["HOME".into(), "PATH".into()],
            decide_timeout_ms: 190_000,
        },
        Reply::TtyRequest { id: 2 },
        Reply::EnvRequest {
            id: 2,
            names: vec!["DEPLOY_ENV".into()],
        },
        Reply::FileRequest {
            id: 2,
            path: "/home/agent/.claude/shell-snapshots/snapshot-bash.sh".into(),
        },
        Reply::Verdict {
            id: 2,
            verdict: full_verdict(),
        },
        Reply::Verdict {
            id: 2,
            verdict: Verdict {
                allow: false,
                code: -1,
                shell: "/bin/bash".into(),
                ..Verdict::default()
            },
        },
        Reply::Done {
            id: 2,
            code: 0,
            stdout: "{\"id\":\"…\"}\n".into(),
            stderr: String::new(),
        },
        Reply::Error {
            id: 0,
            message: "malformed message: unknown field `uid`".into(),
        },
    ]
}

/// The `type` each variant goes by. The match is exhaustive, so a new
/// variant stops the build here; the set comparison below then wants an
/// example of it and a schema branch.
fn request_kind(r: &Request) -> &'static str {
    match r {
        Request::Hello { .. } => "hello",
        Request::Decide { .. } => "decide",
        Request::Tty { .. } => "tty",
        Request::File { .. } => "file",
        Request::Env { .. } => "env",
        Request::SessionStart { .. } => "session-start",
        Request::SessionEnd { .. } => "session-end",
        Request::SessionStatus { .. } => "session-status",
        Request::SessionList { .. } => "session-list",
        Request::Status { .. } => "status",
    }
}

fn reply_kind(r: &Reply) -> &'static str {
    match r {
        Reply::Hello { .. } => "hello",
        Reply::TtyRequest { .. } => "tty-request",
        Reply::FileRequest { .. } => "file-request",
        Reply::EnvRequest { .. } => "env-request",
        Reply::Verdict { .. } => "verdict",
        Reply::Done { .. } => "done",
        Reply::Error { .. } => "error",
    }
}

fn to_value<T: serde::Serialize>(msg: &T) -> Value {
    serde_json::to_value(msg).unwrap()
}

fn parses_as_request(body: &Value) -> bool {
    serde_json::from_value::<Request>(body.clone()).is_ok()
}

fn parses_as_reply(body: &Value) -> bool {
    serde_json::from_value::<Reply>(body.clone()).is_ok()
}

#[test]
fn the_schemas_have_a_branch_for_every_variant_and_no_more() {
    let sent: BTreeSet<String> = request_examples()
        .iter()
        .map(|r| {
            let kind = request_kind(r);
            assert_eq!(kind, r.kind(), "Request::kind disagrees with serde");
            kind.to_string()
        })
        .collect();
    assert_eq!(sent, kinds(&requests()));
    let answered: BTreeSet<String> = reply_examples()
        .iter()
        .map(|r| reply_kind(r).to_string())
        .collect();
    assert_eq!(answered, kinds(&replies()));
}

/// (a) the type names a branch, (b) every key is a property of it,
/// (c) every key it requires is there. serde writes every field, null
/// included, so (b) holds both ways: the schema lists exactly the fields.
#[test]
fn every_message_has_exactly_its_branch_keys() {
    let cases: Vec<(Value, Value)> = request_examples()
        .iter()
        .map(|r| (requests(), to_value(r)))
        .chain(reply_examples().iter().map(|r| (replies(), to_value(r))))
        .collect();
    for (root, body) in &cases {
        let kind = body["type"].as_str().unwrap();
        let b = branch(root, kind).unwrap_or_else(|| panic!("no branch for {kind}"));
        let props = common::sorted_keys(&b["properties"]);
        let keys = common::sorted_keys(body);
        assert_eq!(
            keys, props,
            "{kind}: the body's keys and the schema's properties"
        );
        for k in strings(&b["required"]) {
            assert!(
                keys.contains(&k),
                "{kind}: required {k} missing from {body}"
            );
        }
        conforms(root, body);
    }
    // The nested objects of a verdict the same way.
    let root = replies();
    let full = to_value(&Reply::Verdict {
        id: 2,
        verdict: full_verdict(),
    });
    assert_eq!(
        common::sorted_keys(&full["verdict"]),
        common::sorted_keys(&root["$defs"]["verdict"]["properties"])
    );
    assert_eq!(
        common::sorted_keys(&full["verdict"]["files"][0]),
        common::sorted_keys(&root["$defs"]["file"]["properties"])
    );
}

/// What the schema calls optional really has a default, and what it
/// calls required really is: a body of just the required keys parses,
/// and so does none with one of them taken away.
#[test]
fn required_means_what_serde_requires() {
    fn minimal(
        body: &Value,
        pointer: &str,
        required: &[String],
        parses: &dyn Fn(&Value) -> bool,
        what: &str,
    ) {
        let mut only = body.clone();
        let obj = only.pointer_mut(pointer).unwrap().as_object_mut().unwrap();
        obj.retain(|k, _| required.contains(k));
        assert!(
            parses(&only),
            "{what}: only the required keys must do: {only}"
        );
        for k in required {
            let mut less = only.clone();
            less.pointer_mut(pointer)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(k);
            assert!(
                !parses(&less),
                "{what}: {k} is required by the schema, not by serde"
            );
        }
    }
    let root = requests();
    for r in request_examples() {
        let body = to_value(&r);
        let b = branch(&root, r.kind()).unwrap();
        minimal(
            &body,
            "",
            &strings(&b["required"]),
            &parses_as_request,
            r.kind(),
        );
    }
    let root = replies();
    for r in reply_examples() {
        let body = to_value(&r);
        let b = branch(&root, reply_kind(&r)).unwrap();
        minimal(
            &body,
            "",
            &strings(&b["required"]),
            &parses_as_reply,
            reply_kind(&r),
        );
    }
    let full = to_value(&Reply::Verdict {
        id: 2,
        verdict: full_verdict(),
    });
    let verdict = &root["$defs"]["verdict"]["required"];
    minimal(
        &full,
        "/verdict",
        &strings(verdict),
        &parses_as_reply,
        "verdict",
    );
    let file = &root["$defs"]["file"]["required"];
    minimal(
        &full,
        "/verdict/files/0",
        &strings(file),
        &parses_as_reply,
        "file",
    );
}

/// (d) identity comes from the kernel: a key the type does not have,
/// such as a uid, is malformed in every request. Replies are as strict,
/// so a field added there is a protocol change too.
#[test]
fn an_unknown_key_is_malformed() {
    for r in request_examples() {
        let body = to_value(&r);
        assert!(parses_as_request(&body), "{body}");
        for (k, v) in [
            ("uid", json!(0)),
            ("pid", json!(1)),
            ("owner", json!({"pid": 1, "start": 1})),
            ("user", json!("root")),
        ] {
            let mut forged = body.clone();
            forged[k] = v;
            assert!(
                !parses_as_request(&forged),
                "{} accepted {k}: {forged}",
                r.kind()
            );
        }
    }
    for r in reply_examples() {
        let mut extra = to_value(&r);
        extra["extra"] = json!(1);
        assert!(!parses_as_reply(&extra), "{extra}");
    }
    let full = to_value(&Reply::Verdict {
        id: 2,
        verdict: full_verdict(),
    });
    for pointer in ["/verdict", "/verdict/files/0"] {
        let mut extra = full.clone();
        extra.pointer_mut(pointer).unwrap()["extra"] = json!(1);
        assert!(!parses_as_reply(&extra), "{pointer}: {extra}");
    }
    // And the schemas say so: a branch that allows extra keys would let
    // another implementation accept what guard refuses.
    for root in [requests(), replies()] {
        for b in root["oneOf"].as_array().unwrap() {
            assert_eq!(b["additionalProperties"], false, "{}", b["title"]);
        }
    }
}

#[test]
fn examples_round_trip() {
    for r in request_examples() {
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
    }
    for r in reply_examples() {
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), r);
    }
}

/// The exchanges in docs/protocol.md: each `→` line is a request and
/// each `←` line a reply, valid for the Rust types and the schemas.
#[test]
fn the_documented_exchanges_are_valid() {
    let path = common::root().join("docs/protocol.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (requests, replies) = (requests(), replies());
    let mut seen = 0;
    for line in doc.lines() {
        if let Some(body) = line.strip_prefix("→ ") {
            let r: Request =
                serde_json::from_str(body).unwrap_or_else(|e| panic!("docs: {e}: {body}"));
            conforms(&requests, &to_value(&r));
            conforms(&requests, &serde_json::from_str(body).unwrap());
            seen += 1;
        } else if let Some(body) = line.strip_prefix("← ") {
            let r: Reply =
                serde_json::from_str(body).unwrap_or_else(|e| panic!("docs: {e}: {body}"));
            conforms(&replies, &to_value(&r));
            conforms(&replies, &serde_json::from_str(body).unwrap());
            seen += 1;
        }
    }
    // Two exchanges: hello both ways, decide, verdict; plus the terminal.
    assert!(
        seen >= 10,
        "only {seen} example messages in docs/protocol.md"
    );
}
