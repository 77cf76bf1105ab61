//! Where the `cloudwatch` sink's AWS credentials come from: the sink's own
//! options (which may name secrets), else the standard environment
//! variables, else the shared credentials file (`~/.aws/credentials`, the
//! `AWS_PROFILE` profile or `default`). Instance roles (IMDS), SSO and
//! `credential_process` are not read.

use std::path::{Path, PathBuf};

use crate::secret::Secret;

/// A key pair, and a session token for temporary credentials.
#[derive(Clone, Debug)]
pub struct AwsCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Secret,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<Secret>,
}

/// Credentials from the environment or the shared file, or why there are
/// none.
pub(crate) fn from_environment(
    env: impl Fn(&str) -> Option<String>,
) -> Result<(AwsCredentials, &'static str), String> {
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok((
            AwsCredentials {
                access_key_id: id,
                secret_access_key: Secret::new(secret),
                session_token: env("AWS_SESSION_TOKEN").map(Secret::new),
            },
            "the environment",
        ));
    }
    let file = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".aws/credentials")));
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    if let Some(file) = file
        && let Ok(text) = std::fs::read_to_string(&file)
    {
        if let Some(credentials) = from_shared_file(&text, &profile) {
            return Ok((credentials, "the shared credentials file"));
        }
        return Err(format!(
            "`{}` has no access key for profile `{profile}`",
            file.display()
        ));
    }
    Err("no AWS credentials: set access_key_id and secret_access_key (best as ${secret:NAME}), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or write ~/.aws/credentials".into())
}

/// The `[profile]` section of a shared credentials file.
fn from_shared_file(text: &str, profile: &str) -> Option<AwsCredentials> {
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && line.ends_with(']') {
            let name = line[1..line.len() - 1].trim();
            in_profile = name == profile || name == format!("profile {profile}");
            continue;
        }
        if !in_profile || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = value.trim().to_owned();
            match key.trim() {
                "aws_access_key_id" => id = Some(value),
                "aws_secret_access_key" => secret = Some(value),
                "aws_session_token" => token = Some(value),
                _ => {}
            }
        }
    }
    Some(AwsCredentials {
        access_key_id: id?,
        secret_access_key: Secret::new(secret?),
        session_token: token.map(Secret::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_comes_before_the_shared_file() {
        let env = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("AKID".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("s3cret".to_string()),
            _ => None,
        };
        let (credentials, from) = from_environment(env).unwrap();
        assert_eq!(credentials.access_key_id, "AKID");
        assert_eq!(from, "the environment");
        assert!(!format!("{credentials:?}").contains("s3cret"));
    }

    #[test]
    fn a_profile_is_read_from_the_shared_file() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n[profile ci]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token=E\n";
        let ci = from_shared_file(text, "ci").unwrap();
        assert_eq!(ci.access_key_id, "C");
        assert_eq!(ci.session_token.unwrap().expose(), "E");
        assert_eq!(
            from_shared_file(text, "default").unwrap().access_key_id,
            "A"
        );
        assert!(from_shared_file(text, "other").is_none());
    }
}
