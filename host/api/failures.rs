//! Wrong keys are throttled per client address: after
//! `interfaces.web.auth_failures_per_minute` requests presenting a key
//! answered 401 from one address within a minute, its requests that present
//! a key are answered 429 `too_many_failures` (with `Retry-After`) without
//! being looked at, until the minute has passed. Requests without a key
//! (the console's pages) and the open routes (health, readiness, the
//! OpenAPI document) are neither counted nor held back: they guess nothing.
//! Guessing keys from one address is slowed to that rate; a client with a
//! valid key elsewhere is not affected. Both servers (plain and TLS) give
//! each request its client's address; a request without one (handed to the
//! router in-process) is not counted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use super::{ApiError, AppState};

/// The window failures are counted over.
const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; past this, those whose window is over are
/// forgotten first.
const MAX_ADDRESSES: usize = 10_000;

/// Failed key checks per client address: how many in the current window,
/// and when it began.
#[derive(Debug, Default)]
pub struct Failures {
    limit: u32,
    seen: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Failures {
    pub fn new(limit_per_minute: u32) -> Failures {
        Failures {
            limit: limit_per_minute,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `addr` may try again, if it is held back now.
    fn held_back(&self, addr: IpAddr, now: Instant) -> Option<u64> {
        if self.limit == 0 {
            return None;
        }
        let seen = self.seen.lock();
        let (count, since) = seen.get(&addr)?;
        let elapsed = now.duration_since(*since);
        (*count >= self.limit && elapsed < WINDOW).then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    /// Counts one failed key check from `addr`.
    fn failed(&self, addr: IpAddr, now: Instant) {
        if self.limit == 0 {
            return;
        }
        let mut seen = self.seen.lock();
        if seen.len() >= MAX_ADDRESSES && !seen.contains_key(&addr) {
            seen.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
            if seen.len() >= MAX_ADDRESSES {
                return;
            }
        }
        let (count, since) = seen.entry(addr).or_insert((0, now));
        if now.duration_since(*since) >= WINDOW {
            *count = 0;
            *since = now;
        }
        *count = count.saturating_add(1);
    }
}

/// The middleware: refuses an address over its limit, and counts every 401
/// it is answered.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // The open routes check no key, whatever a request presents.
    let open = super::openapi::OPEN.contains(&request.uri().path())
        || request.uri().path() == "/api/v1/health";
    let presents_key = !open
        && ["x-api-key", "authorization"]
            .iter()
            .any(|h| request.headers().contains_key(*h));
    let addr = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(addr) = addr.filter(|_| presents_key) else {
        return next.run(request).await;
    };
    let failures = &state.failures;
    if let Some(retry_after_secs) = failures.held_back(addr, Instant::now()) {
        tracing::warn!(address = %addr, "Requests refused: too many wrong API keys from this address");
        return ApiError::TooManyFailures { retry_after_secs }.into_response();
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        failures.failed(addr, Instant::now());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_held_back_after_its_limit_for_the_rest_of_the_minute() {
        let f = Failures::new(3);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t = Instant::now();
        for _ in 0..3 {
            assert_eq!(f.held_back(a, t), None);
            f.failed(a, t);
        }
        assert_eq!(f.held_back(a, t + Duration::from_secs(1)), Some(59));
        assert_eq!(f.held_back(b, t), None, "another address is not");
        assert_eq!(f.held_back(a, t + WINDOW), None, "the minute is over");
        f.failed(a, t + WINDOW);
        assert_eq!(f.held_back(a, t + WINDOW), None, "a new window began");
        assert_eq!(Failures::new(0).held_back(a, t), None);
    }
}
