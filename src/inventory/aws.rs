//! AWS profiles in the shared credentials and config files, and which
//! of them hold static keys.

use std::path::Path;

use super::{read_with, Finding, Kind, Sources};

pub(super) fn scan(src: &Sources<'_>) -> Vec<Finding> {
    let creds = src.path_or("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    let config = src.path_or("AWS_CONFIG_FILE", ".aws/config");
    let mut out = read_with(Kind::AwsProfile, &creds, |t| profiles(&creds, t, false));
    // A profile is one thing to the SDKs even when both files define it:
    // report it once, at the first file, with what both say.
    for f in read_with(Kind::AwsProfile, &config, |t| profiles(&config, t, true)) {
        match out
            .iter_mut()
            .find(|o| !f.name.is_empty() && o.name == f.name)
        {
            Some(o) => {
                o.tags.extend(f.tags);
                o.signals.aws_accounts.extend(f.signals.aws_accounts);
            }
            None => out.push(f),
        }
    }
    out
}

/// One finding per profile section. In the config file a profile is
/// `[profile NAME]` (or `[default]`); other sections (`sso-session`,
/// `services`) are not profiles.
fn profiles(path: &Path, text: &str, config: bool) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut current: Option<usize> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            let name = if !config || section == "default" {
                Some(section)
            } else {
                section.strip_prefix("profile ").map(str::trim)
            };
            current = name.filter(|n| !n.is_empty()).map(|name| {
                let mut f = Finding::new(Kind::AwsProfile, name, path.display().to_string());
                f.signals.aws_profile = Some(name.to_string());
                out.push(f);
                out.len() - 1
            });
            continue;
        }
        let (Some(i), Some((key, value))) = (current, line.split_once('=')) else {
            continue;
        };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
        let f = &mut out[i];
        let tag = match key.as_str() {
            "aws_access_key_id" | "aws_secret_access_key" => "static-keys",
            "aws_session_token" | "aws_security_token" => "session-token",
            "role_arn" => {
                f.signals.aws_accounts.extend(arn_account(value));
                "role"
            }
            "sso_account_id" => {
                f.signals.aws_accounts.push(value.to_string());
                "sso"
            }
            "sso_start_url" | "sso_session" => "sso",
            "credential_process" => "credential-process",
            "web_identity_token_file" => "web-identity",
            "source_profile" => "source-profile",
            _ => continue,
        };
        f.tags.push(tag.to_string());
    }
    out
}

/// The account of `arn:aws:iam::123456789012:role/x`.
fn arn_account(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    (!account.is_empty() && account.chars().all(|c| c.is_ascii_digit()))
        .then(|| account.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::profiles;

    #[test]
    fn config_sections() {
        let text =
            "[default]\nregion=x\n[profile prod]\nrole_arn = arn:aws:iam::123456789012:role/r\n\
                    [sso-session s]\nsso_start_url=u\n[profile ]\n";
        let found = profiles(Path::new("c"), text, true);
        let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["default", "prod"]);
        assert_eq!(found[1].tags, ["role"]);
        assert_eq!(found[1].signals.aws_accounts, ["123456789012"]);
    }

    #[test]
    fn static_keys() {
        let found = profiles(Path::new("c"), "[a]\naws_access_key_id=AKIA\n[b]\n", false);
        assert_eq!(found[0].tags, ["static-keys"]);
        assert!(found[1].tags.is_empty());
    }
}
