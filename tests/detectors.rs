//! Secret detectors, gitleaks-style: for each detector, text it must find
//! (true positives) and look-alikes it must not (false positives), and
//! redaction that leaves none of a found secret behind.

use guard::detect::{redact, redact_argv, scan, KNOWN_IDS};

/// (detector, true positives, false positives)
const FIXTURES: &[(&str, &[&str], &[&str])] = &[
    (
        "aws-access-key",
        &["AKIAQWERTYUIOPASDFGH", "key=ASIAZXCVBNMASDFGHJKL;", "AKIA2E0A8F3B244C9986"],
        &["AKIAIOSFODNN7EXAMPLE", "AKIA123", "akiaqwertyuiopasdfgh", "XAKIAQWERTYUIOPASDFGH1"],
    ),
    (
        "aws-secret-key",
        &["aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzzzzzzz"],
        &["aws_secret_access_key=", "aws_secret_access_key=short"],
    ),
    (
        "github-token",
        &[
            "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
            "token=gho_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        ],
        &["ghp_short", "ghp_your_token_here_xxxxxxxxxxxxxxxxxxxxxxxxx", "github_pat_"],
    ),
    (
        "slack-token",
        &["xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxp-1234567890-abcdef"],
        &["xoxb-your-token", "xoxz-1234567890abc", "xoxb-"],
    ),
    (
        "stripe-key",
        &["sk_live_4eC39HqLyjWDarjtT1zdp7dc", "rk_live_51H8abcdefghijklmnop"],
        &["sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_", "pk_live_4eC39HqLyjWDarjtT1zdp7dc"],
    ),
    (
        "jwt",
        &["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"],
        &["eyJhbGciOiJIUzI1NiJ9", "eyJ.eyJ.x", "header.payload.signature"],
    ),
    (
        "private-key",
        &[
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----",
        ],
        &["-----BEGIN PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----", "private key"],
    ),
    (
        "auth-header",
        &[
            "Authorization: Bearer abc.def.ghi",
            "authorization:Basic dXNlcjpwYXNz",
            "X-Api-Key: 0123456789abcdef",
            "Cookie: session=abcdef",
            "PRIVATE-TOKEN: glpat-abcdefghij",
        ],
        &["Accept: application/json", "Authorization: Bearer $TOKEN", "Authorization: Bearer <token>", "Authorization:"],
    ),
    (
        "url-credentials",
        &["https://user:hunter2@example.com/repo.git", "postgres://app:s3cret@db:5432/app", "redis://:pw123@cache:6379"],
        &["git@github.com:org/repo.git", "https://example.com/a:b@c", "https://user@example.com", "https://user:$PASS@example.com", "https://user:@example.com"],
    ),
    (
        "password-flag",
        &["--password=hunter2", "--token=abc123", "-p --api-key=0123456789"],
        &["--password", "--password=", "--password-stdin", "--token=$TOKEN"],
    ),
];

#[test]
fn every_detector_has_fixtures() {
    let regex_ids: Vec<&str> = FIXTURES.iter().map(|(id, _, _)| *id).collect();
    for id in KNOWN_IDS {
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
