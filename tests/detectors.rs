//! Secret detectors, gitleaks-style: for each detector, text it must find
//! (true positives) and look-alikes it must not (false positives), and
//! redaction that leaves none of a found secret behind.

use guard::detect::{redact, redact_argv, scan, GUARD_IDS, KNOWN_IDS};

mod common;

use common::secrets::FIXTURES;

#[test]
fn every_detector_has_fixtures() {
    let regex_ids: Vec<&str> = FIXTURES.iter().map(|(id, _, _)| *id).collect();
    // gitleaks' rules are tested on gitleaks' fixtures (tests/gitleaks.rs).
    for id in &GUARD_IDS {
        assert!(KNOWN_IDS.contains(id), "{id} missing from KNOWN_IDS");
        // The two contextual detectors are tested below.
        if *id == "mysql-password" || *id == "password-env" {
            continue;
        }
        assert!(regex_ids.contains(id), "no fixtures for detector {id}");
    }
}

#[test]
fn true_positives_are_found_and_redacted() {
    let mut failures = Vec::new();
    for (id, positives, _) in FIXTURES {
        for text in *positives {
            if !scan(text).contains(id) {
                failures.push(format!("{id} missed {text:?} (found {:?})", scan(text)));
            }
            let redacted = redact(text);
            if !redacted.contains("***") || !scan(&redacted).is_empty() {
                failures.push(format!("{id}: redaction of {text:?} left {redacted:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn false_positives_are_not_found() {
    let mut failures = Vec::new();
    for (id, _, negatives) in FIXTURES {
        for text in *negatives {
            if scan(text).contains(id) {
                failures.push(format!("{id} wrongly found a secret in {text:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn contextual_secrets_are_redacted() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["mysql", "-psecret", "db"], &["mysql", "-p***", "db"]),
        (&["mysql", "-p", "db"], &["mysql", "-p", "db"]),
        (&["mysql", "-P3306", "db"], &["mysql", "-P3306", "db"]),
        (
            &["curl", "-u", "bob:hunter2", "https://x"],
            &["curl", "-u", "bob:***", "https://x"],
        ),
        (
            &["sshpass", "-p", "pw", "ssh", "h"],
            &["sshpass", "-p", "***", "ssh", "h"],
        ),
        (
            &["env", "PGPASSWORD=pw", "psql"],
            &["env", "PGPASSWORD=***", "psql"],
        ),
        (
            &["wget", "--password", "pw", "https://x"],
            &["wget", "--password", "***", "https://x"],
        ),
    ];
    for (argv, want) in cases {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        assert_eq!(redact_argv(&argv), *want, "{argv:?}");
    }
    for (line, secret) in [
        ("PGPASSWORD=hunter2 psql -h db", "hunter2"),
        ("mysql -uroot -phunter2 app", "hunter2"),
        ("curl -u bob:hunter2 https://x", "hunter2"),
        ("MYSQL_PWD='hunter2' mysql", "hunter2"),
    ] {
        let out = redact(line);
        assert!(!out.contains(secret), "{line} → {out}");
    }
}
