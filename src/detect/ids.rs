//! The ids of guard's own detectors. Shared with build.rs, so that a
//! gitleaks rule with the same id (`jwt`, `private-key`) reports under
//! guard's id instead of adding a second entry to `KNOWN_IDS`.

pub const GUARD_IDS: [&str; 12] = [
    "aws-access-key",
    "aws-secret-key",
    "github-token",
    "slack-token",
    "stripe-key",
    "jwt",
    "private-key",
    "auth-header",
    "url-credentials",
    "password-flag",
    "mysql-password",
    "password-env",
];
