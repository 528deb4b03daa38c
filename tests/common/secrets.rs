//! The secret detectors' fixtures, shared by the detector tests and the
//! audit test that greps a real log for every secret value.

/// (detector, true positives, false positives)
pub const FIXTURES: &[(&str, &[&str], &[&str])] = &[
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
        &["xoxb-your-token", "xoxz-1234567890abc", "xoxb-", "xoxb-12345-abcd234", "xoxp-572370529330-573807301142-####"],
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
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmwIDAQABAoIBAQCfHHoNkR8f\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDzcGlrZXl0ZXN0a2V5bWF0ZXJpYWxub3RyZWFs",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI3+FrUBMHiJ8CAggAMAwGCCqGSIb3DQIJBQAwFAYIKoZIhvcNAwcECBnmFTDZ2eLgBIIEyPZPJ",
        ],
        &[
            "-----BEGIN PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----",
            "private key",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA...\\n-----END RSA PRIVATE KEY-----",
        ],
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
