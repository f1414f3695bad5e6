//! API keys: kept as sha256 hashes, each with a role. A request presents
//! its key in `X-API-Key` (or `Authorization: Bearer`); the routes have it
//! checked by the extractors of `role.rs`.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::config::raw::{ApiKeySection, Role};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("MEDIC_API_KEY is too short: use at least 16 characters")]
    TooShort,
}

struct Key {
    name: String,
    role: Role,
    sha256: [u8; 32],
}

pub struct ApiKeys {
    keys: Vec<Key>,
    /// Per key name, a token bucket (governor's GCRA, which admits exactly
    /// what a bucket of `burst` tokens refilled at `per_second` does); none
    /// without a limit.
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

/// A caller that presented a valid key.
#[derive(Clone, Debug)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The quota of `per_second` sustained and `burst` at once: one request
/// every `1 / per_second`, at most `burst` (whole requests, at least 1)
/// together; none when `per_second` is 0 (no limit). The period is capped
/// so that `burst` periods stay within governor's 64-bit nanoseconds (a
/// quarter of them: over a century for a burst of 1).
fn quota(per_second: f64, burst: f64) -> Option<Quota> {
    if per_second.is_nan() || per_second <= 0.0 {
        return None;
    }
    let burst = NonZeroU32::new(burst.floor().clamp(1.0, f64::from(u32::MAX)) as u32)
        .unwrap_or(NonZeroU32::MIN);
    let longest = Duration::from_nanos(u64::MAX / 4 / u64::from(burst.get()));
    let period = Duration::try_from_secs_f64(1.0 / per_second)
        .unwrap_or(longest)
        .clamp(Duration::from_nanos(1), longest);
    Quota::with_period(period).map(|q| q.allow_burst(burst))
}

impl ApiKeys {
    /// Keys from config, plus `env_key` (from `MEDIC_API_KEY`) as an admin.
    pub fn new(configured: &[ApiKeySection], env_key: Option<&str>) -> Result<ApiKeys, KeyError> {
        let mut keys: Vec<Key> = configured
            .iter()
            .filter_map(|k| {
                let bytes = hex::decode(&k.sha256).ok()?;
                Some(Key {
                    name: k.name.clone(),
                    role: k.role,
                    sha256: bytes.try_into().ok()?,
                })
            })
            .collect();
        if let Some(k) = env_key {
            if k.len() < 16 {
                return Err(KeyError::TooShort);
            }
            keys.push(Key {
                name: "env:MEDIC_API_KEY".into(),
                role: Role::Admin,
                sha256: digest(k),
            });
        }
        Ok(ApiKeys {
            keys,
            limiter: None,
        })
    }

    /// Limits each key to `per_second` sustained and `burst` at once
    /// (`per_second` 0: no limit; docs/reference/configuration.md,
    /// `interfaces.web.rate_limit_*`).
    pub fn with_rate_limit(mut self, per_second: f64, burst: f64) -> Self {
        self.limiter = quota(per_second, burst).map(RateLimiter::keyed);
        self
    }

    /// Takes one request from `name`'s bucket, or says when to retry.
    fn admit(&self, name: &str) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&name.to_string()).map_err(|refused| {
            let wait = refused.wait_time_from(limiter.clock().now());
            ApiError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds a key (used for the one-time key generated at start).
    pub fn with(mut self, name: &str, role: Role, key: &str) -> Self {
        self.keys.push(Key {
            name: name.into(),
            role,
            sha256: digest(key),
        });
        self
    }

    /// The caller behind the request's key, if it may act as `need`.
    pub fn check(&self, headers: &HeaderMap, need: Role) -> Result<Caller, ApiError> {
        let presented = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
            })
            .ok_or(ApiError::Unauthorized)?;
        let d = digest(presented.trim());
        let key = self
            .keys
            .iter()
            .find(|k| k.sha256 == d)
            .ok_or(ApiError::Unauthorized)?;
        let allowed = match need {
            Role::Admin => key.role == Role::Admin,
            Role::Ingest => matches!(key.role, Role::Ingest | Role::Admin),
            Role::Approver => matches!(key.role, Role::Approver | Role::Admin),
            Role::Viewer => matches!(key.role, Role::Viewer | Role::Approver | Role::Admin),
        };
        if !allowed {
            return Err(ApiError::Forbidden(
                format!("{:?}", key.role).to_lowercase(),
            ));
        }
        self.admit(&key.name)?;
        Ok(Caller {
            name: key.name.clone(),
            role: key.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits_for_the_rate_and_others_are_apart() {
        // 0.5 a second, 2 at once: the third waits 2 s for its token.
        let keys = ApiKeys::new(&[], None).unwrap().with_rate_limit(0.5, 2.9);
        assert!(keys.admit("a").is_ok() && keys.admit("a").is_ok());
        match keys.admit("a") {
            Err(ApiError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 2),
            other => panic!("third request of a burst of 2: {other:?}"),
        }
        assert!(keys.admit("b").is_ok(), "another key has its own bucket");
    }

    #[test]
    fn no_rate_is_no_limit_and_extreme_rates_are_kept_in_range() {
        let open = ApiKeys::new(&[], None).unwrap().with_rate_limit(0.0, 1.0);
        assert!((0..1_000).all(|_| open.admit("a").is_ok()));
        let slow = ApiKeys::new(&[], None)
            .unwrap()
            .with_rate_limit(1e-30, 1e12);
        assert!(slow.admit("a").is_ok());
        let fast = ApiKeys::new(&[], None).unwrap().with_rate_limit(1e30, 1.0);
        assert!((0..100).all(|_| fast.admit("a").is_ok()));
    }
}
