//! API keys: kept as sha256 hashes, each with a role. A request presents
//! its key in `X-API-Key` (or `Authorization: Bearer`); the routes have it
//! checked by the extractors of `role.rs`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::config::raw::{ApiKeySection, Role};
use crate::sync::lock;

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
    /// Per key: tokens left and when they were counted (a token bucket).
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    rate: f64,
    burst: f64,
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
            buckets: Mutex::new(HashMap::new()),
            rate: 0.0,
            burst: 1.0,
        })
    }

    /// Limits each key to `per_second` sustained and `burst` at once
    /// (`per_second` 0: no limit).
    pub fn with_rate_limit(mut self, per_second: f64, burst: f64) -> Self {
        self.rate = per_second;
        self.burst = burst.max(1.0);
        self
    }

    /// Takes one request from `name`'s bucket, or says when to retry.
    fn admit(&self, name: &str) -> Result<(), ApiError> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        let (tokens, at) = buckets.entry(name.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / self.rate;
            Err(ApiError::RateLimited {
                retry_after_secs: wait.ceil().max(1.0) as u64,
            })
        }
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
