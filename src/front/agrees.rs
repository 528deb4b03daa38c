//! The front speaks the protocol as `wire` defines it: what it writes,
//! serde reads as the same request; what serde writes, it reads.

use super::json::{self, Value};
use super::talk;
use crate::wire::{self, FileGrant, Reply, Request, Verdict};

#[test]
fn its_constants_are_the_clients() {
    assert_eq!(talk::VERSION, u64::from(wire::VERSION));
    assert_eq!(talk::MAX_FRAME, wire::MAX_FRAME);
    assert_eq!(super::conf::BASE_ENV, wire::BASE_ENV);
}

#[test]
fn its_hello_and_decide_are_what_the_broker_reads() {
    let hello: Request = serde_json::from_slice(&talk::hello()).unwrap();
    assert!(matches!(
        hello,
        Request::Hello {
            id: 1,
            version: wire::VERSION,
            ..
        }
    ));
    let env = [
        ("HOME", "/home/a"),
        ("Q", "quote \" back\\slash \n tab\t ctrl\u{1} é 🦀"),
    ];
    for (login, session, terminal) in [(false, None, None), (true, Some("s-1"), Some(3))] {
        let ask = talk::Ask {
            line: "cd /tmp && ls | head -1 # \"x\"",
            login,
            session,
            cwd: "/tmp/d ir",
            env: &env,
            terminal,
        };
        let got: Request = serde_json::from_slice(&talk::decide(&ask)).unwrap();
        let want = Request::Decide {
            id: 2,
            mode: "-c".into(),
            line: Some(ask.line.into()),
            argv: None,
            login,
            starts_session: login,
            session: session.map(String::from),
            cwd: "/tmp/d ir".into(),
            env_names: env.iter().map(|(k, _)| k.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            scope: None,
            tty: terminal.is_some(),
        };
        assert_eq!(got, want);
    }
}

#[test]
fn it_reads_what_the_broker_writes() {
    let v = Verdict {
        allow: true,
        code: 0,
        stderr: vec!["guard: warning: \"x\"\u{7f} é".into()],
        session: Some("s-2".into()),
        set_env: [("AWS_ACCESS_KEY_ID".to_string(), "AKIA\\u0041".to_string())].into(),
        unset_env: vec!["TOKEN".into()],
        files: vec![FileGrant {
            credential: "kube".into(),
            env: "KUBECONFIG".into(),
            name: "config".into(),
            dir: false,
            content: "apiVersion: v1\n\t🦀\n".into(),
        }],
        shell: "/bin/bash".into(),
        startup_files: true,
        direct: Some(vec!["ls".into(), "/".into()]),
        trace: true,
        seq: Some(u64::from(u32::MAX) * 3),
        live_sessions: vec!["s-1".into(), "s-2".into()],
    };
    let text = serde_json::to_vec(&Reply::Verdict {
        id: 2,
        verdict: v.clone(),
    })
    .unwrap();
    let got = json::parse(&text).unwrap();
    assert_eq!(got.str("type"), Some("verdict"));
    let g = got.get("verdict").unwrap();
    assert!(g.bool("allow") && g.bool("startup_files") && g.bool("trace"));
    assert_eq!(g.strs("stderr").unwrap(), v.stderr);
    assert_eq!(g.str("session"), Some("s-2"));
    assert_eq!(g.strs("direct").unwrap(), vec!["ls", "/"]);
    assert_eq!(g.int("seq"), Some(i64::from(u32::MAX) * 3));
    let Some(Value::Arr(files)) = g.get("files") else {
        panic!("files")
    };
    assert_eq!(files[0].str("content"), Some("apiVersion: v1\n\t🦀\n"));
    let Some(Value::Obj(set)) = g.get("set_env") else {
        panic!("set_env")
    };
    assert_eq!(
        set[0],
        ("AWS_ACCESS_KEY_ID".into(), Value::Str("AKIA\\u0041".into()))
    );
}

#[test]
fn it_refuses_what_is_not_json() {
    for bad in [
        &b""[..],
        b"{",
        b"{\"a\":}",
        b"[1,]",
        b"\"\\ud800\"",
        b"\"\x01\"",
        b"1.5",
        b"99999999999999999999",
        b"{\"a\":1} x",
        b"\"\xff\"",
    ] {
        assert!(
            json::parse(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    let deep = "[".repeat(100) + &"]".repeat(100);
    assert!(json::parse(deep.as_bytes()).is_err());
    assert_eq!(
        json::parse(b" {\"a\" : [true, false, null, -3, \"\\u00e9\\ud83e\\udd80\"]} ")
            .unwrap()
            .get("a"),
        Some(&Value::Arr(vec![
            Value::Bool(true),
            Value::Bool(false),
            Value::Null,
            Value::Int(-3),
            Value::Str("é🦀".into())
        ]))
    );
}

#[test]
fn its_shell_argv_is_the_clients() {
    use std::ffi::OsString;
    for (shell, login, startup) in [
        ("/bin/bash", false, false),
        ("/bin/bash", true, true),
        ("/usr/bin/zsh", true, false),
        ("/bin/dash", false, true),
    ] {
        // A script that looks like an option is ended from the options
        // by both, or the shell would run the next word instead.
        for text in ["echo hi", "-x", "+o", "--", "-"] {
            let rest = vec![b"name".to_vec(), b"arg".to_vec()];
            let front = super::launch::shell_argv(shell, login, startup, text, &rest);
            let full = crate::exec::shell_argv(
                shell,
                login,
                startup,
                &[],
                &OsString::from(text),
                &[OsString::from("name"), OsString::from("arg")],
            );
            let full: Vec<Vec<u8>> = full.iter().map(|a| a.as_encoded_bytes().to_vec()).collect();
            assert_eq!(front, full, "{shell} {login} {startup} {text:?}");
            let at = full.iter().position(|a| a == b"-c").expect("-c");
            let ended = full[at + 1] == b"--";
            assert_eq!(ended, text.starts_with(['-', '+']), "{text:?}: {full:?}");
            assert_eq!(full[at + 1 + usize::from(ended)], text.as_bytes());
        }
    }
}

/// A verdict the full client's serde refuses, the front refuses, and the
/// other way round: the same fields, types, required ones, nothing
/// unknown, nothing twice.
#[test]
fn it_takes_the_verdicts_the_full_client_takes() {
    let full = serde_json::to_string(&Verdict {
        shell: "/bin/bash".into(),
        ..Verdict::default()
    })
    .unwrap();
    let base = r#""allow":true,"code":0,"shell":"/bin/bash""#;
    let cases: Vec<String> = vec![
        full.clone(),
        format!("{{{base}}}"),
        format!(r#"{{{base},"session":"s-1","seq":7,"direct":["ls"],"trace":true}}"#),
        format!(r#"{{{base},"session":null,"seq":null,"direct":null}}"#),
        format!(r#"{{{base},"set_env":{{"A":"1","B":"2"}},"unset_env":["C"]}}"#),
        format!(
            r#"{{{base},"files":[{{"credential":"k","env":"KUBECONFIG","name":"c","content":"x"}}]}}"#
        ),
        // Refused by both:
        format!(r#"{{{base},"session":5}}"#),
        format!(r#"{{{base},"seq":-1}}"#),
        format!(r#"{{{base},"direct":"ls"}}"#),
        format!(r#"{{{base},"direct":["ls",1]}}"#),
        format!(r#"{{{base},"set_env":{{"A":1}}}}"#),
        format!(r#"{{{base},"set_env":{{"A":"1","A":"2"}}}}"#),
        format!(r#"{{{base},"files":[{{"credential":"k","env":"E","name":"c"}}]}}"#),
        format!(
            r#"{{{base},"files":[{{"credential":"k","env":"E","name":"c","content":"x","mode":1}}]}}"#
        ),
        format!(r#"{{{base},"sneaky":true}}"#),
        format!(r#"{{{base},"allow":false}}"#),
        format!(r#"{{{base},"trace":"yes"}}"#),
        r#"{"allow":true,"shell":"/bin/bash"}"#.to_string(),
        r#"{"code":0,"shell":"/bin/bash"}"#.to_string(),
        r#"{"allow":true,"code":0}"#.to_string(),
        r#"{"allow":false,"code":4294967296,"shell":""}"#.to_string(),
        r#"{"allow":1,"code":0,"shell":"/bin/bash"}"#.to_string(),
        "[]".to_string(),
    ];
    let mut refused = 0;
    for text in &cases {
        let serde_ok = serde_json::from_str::<Verdict>(text).is_ok();
        let parsed = json::parse(text.as_bytes()).expect("JSON");
        let front_ok = super::verdict::check(&parsed).is_ok();
        assert_eq!(front_ok, serde_ok, "{text}");
        refused += usize::from(!serde_ok);
    }
    assert!(refused >= 15, "the table refuses {refused}");
}
