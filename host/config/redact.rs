//! Secrets kept out of what Medic shows: a password in a URL, wherever
//! the URL is shown (the configuration over the API, the store's address
//! in messages).

/// What stands where a secret was.
pub const REDACTED: &str = "<redacted>";

/// `scheme://user:password@host` → `scheme://user:<redacted>@host`; a
/// token alone (`scheme://token@host`) is redacted whole.
pub fn url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:{REDACTED}@{host}")
            } else {
                format!("{scheme}://{REDACTED}@{host}")
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::url as redact_url;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_url("redis://:s3cret@host:6379"),
            "redis://:<redacted>@host:6379"
        );
        assert_eq!(redact_url("rediss://u:p@h/0"), "rediss://u:<redacted>@h/0");
        assert_eq!(redact_url("https://token@h/x"), "https://<redacted>@h/x");
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
