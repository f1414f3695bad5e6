//! The `rest` SIEM adapter: `POST {endpoint}/query` with the API key in
//! `X-API-Key`, a timeout per attempt, retries with backoff and jitter, a
//! circuit breaker, and a bounded per-module cache of answers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::json;

use super::breaker::CircuitBreaker;
use super::retry::RetryPolicy;
use super::{BoxFuture, SiemAdapter, SiemError, sanitize};
use crate::config::raw::SiemSection;
use crate::model::{KillReport, OutcomeRecord, SiemContext};

pub struct RestSiem {
    client: reqwest::Client,
    query_url: String,
    outcomes_url: String,
    health_url: String,
    key: String,
    timeout: Duration,
    retry: RetryPolicy,
    breaker: CircuitBreaker,
    cache_ttl: Duration,
    cache_max: usize,
    cache: Mutex<HashMap<String, (Instant, SiemContext)>>,
}

impl RestSiem {
    pub fn new(s: &SiemSection, key: String) -> Result<RestSiem, SiemError> {
        let client =
            crate::http_client::build(s.timeout, s.tls_ca_file.as_deref(), "siem.tls_ca_file")
                .map_err(SiemError::Configuration)?;
        let base = s.endpoint.as_str().trim_end_matches('/');
        Ok(RestSiem {
            client,
            query_url: format!("{base}/query"),
            outcomes_url: format!("{base}/outcomes"),
            health_url: format!("{base}/health"),
            key,
            timeout: s.timeout,
            retry: RetryPolicy::from_config(&s.retry),
            breaker: CircuitBreaker::new(
                s.circuit_breaker.failure_threshold,
                s.circuit_breaker.recovery_timeout,
                s.circuit_breaker.half_open_max_calls,
            ),
            cache_ttl: s.cache.ttl,
            cache_max: s.cache.max_entries as usize,
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, kill: &KillReport) -> Option<SiemContext> {
        let cache = self.cache.lock();
        let (at, ctx) = cache.get(&kill.target_module)?;
        (at.elapsed() < self.cache_ttl).then(|| {
            // The module's recent context, re-addressed to this kill.
            let mut ctx = ctx.clone();
            ctx.kill_id = kill.kill_id.clone();
            ctx
        })
    }

    fn remember(&self, module: &str, ctx: &SiemContext) {
        if self.cache_ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock();
        if cache.len() >= self.cache_max && !cache.contains_key(module) {
            // Evict the oldest answer to stay bounded.
            if let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                cache.remove(&oldest);
            }
        }
        cache.insert(module.to_string(), (Instant::now(), ctx.clone()));
    }

    async fn query_once(&self, kill: &KillReport) -> Result<SiemContext, SiemError> {
        let body = json!({
            "query_type": "kill_context",
            "kill_id": kill.kill_id,
            "target_module": kill.target_module,
            "target_instance_id": kill.target_instance_id,
            "timestamp": kill.timestamp.to_rfc3339(),
            "include_historical": true,
            "historical_days": 30,
        });
        let response = self
            .client
            .post(&self.query_url)
            .header("X-API-Key", &self.key)
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let status = response.status();
        match status.as_u16() {
            200..=299 => {}
            429 => return Err(SiemError::RateLimit),
            401 | 403 => return Err(SiemError::Authorization(status.as_u16())),
            code => return Err(SiemError::External(code)),
        }
        let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
        if bytes.len() > 256 * 1024 {
            return Err(SiemError::Validation(format!(
                "answer is {} bytes (limit 256 KiB)",
                bytes.len()
            )));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| SiemError::Validation(format!("not JSON: {e}")))?;
        sanitize::context(&value, &kill.kill_id)
    }

    fn transport(&self, e: reqwest::Error) -> SiemError {
        if e.is_timeout() {
            SiemError::Timeout(self.timeout.as_secs_f64())
        } else {
            SiemError::Connection(e.to_string())
        }
    }
}

impl SiemAdapter for RestSiem {
    fn query_context<'a>(
        &'a self,
        kill: &'a KillReport,
    ) -> BoxFuture<'a, Result<SiemContext, SiemError>> {
        Box::pin(async move {
            if let Some(ctx) = self.cached(kill) {
                return Ok(ctx);
            }
            if !self.breaker.can_execute() {
                return Err(SiemError::CircuitOpen);
            }
            let result = self.retry.run(|| self.query_once(kill)).await;
            match &result {
                Ok(ctx) => {
                    self.breaker.record_success();
                    self.remember(&kill.target_module, ctx);
                }
                // An answer that fails validation says the SIEM is up.
                Err(SiemError::Validation(_)) => self.breaker.record_success(),
                Err(_) => self.breaker.record_failure(),
            }
            result
        })
    }

    /// `POST {endpoint}/outcomes` with the outcome record, retried like
    /// queries.
    fn report_outcome<'a>(
        &'a self,
        outcome: &'a OutcomeRecord,
    ) -> BoxFuture<'a, Result<bool, SiemError>> {
        Box::pin(async move {
            self.retry
                .run(|| async {
                    let response = self
                        .client
                        .post(&self.outcomes_url)
                        .header("X-API-Key", &self.key)
                        .json(outcome)
                        .send()
                        .await
                        .map_err(|e| self.transport(e))?;
                    match response.status().as_u16() {
                        200..=299 => Ok(true),
                        429 => Err(SiemError::RateLimit),
                        code @ (401 | 403) => Err(SiemError::Authorization(code)),
                        code => Err(SiemError::External(code)),
                    }
                })
                .await
        })
    }

    fn health_check(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            self.client
                .get(&self.health_url)
                .header("X-API-Key", &self.key)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
    }

    fn breaker_state(&self) -> Option<&'static str> {
        Some(self.breaker.state().name())
    }

    fn kind(&self) -> &'static str {
        "rest"
    }
}
