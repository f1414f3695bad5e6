//! The `webhook` backend: each action is a POST of JSON to an orchestration
//! endpoint — `{"action", "module", "instance_id", "kill_id",
//! "request_id"}` — with a bearer token or API key from the environment and
//! a time limit. 2xx is success; a status answer may say
//! `{"running": false}`.

use serde_json::json;

use super::backend::{Backend, BackendError, call_timeout};
use super::template::Target;
use crate::config::raw::{BackendSection, WebhookAuthType};
use crate::enrich::BoxFuture;

pub struct WebhookBackend {
    url: String,
    client: reqwest::Client,
    /// (header, value) carrying the secret.
    auth: Option<(&'static str, String)>,
}

impl WebhookBackend {
    pub fn new(
        s: &BackendSection,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<WebhookBackend, BackendError> {
        let client =
            crate::http_client::build(call_timeout(s), s.tls_ca_file.as_deref(), "tls_ca_file")
                .map_err(BackendError::Config)?;
        let secret = || {
            env(&s.auth.token_env).ok_or_else(|| {
                BackendError::Config(format!(
                    "webhook auth.token_env names {}, which is not set in the environment",
                    s.auth.token_env
                ))
            })
        };
        let auth = match s.auth.kind {
            WebhookAuthType::Bearer => Some(("authorization", format!("Bearer {}", secret()?))),
            WebhookAuthType::ApiKey => Some(("x-api-key", secret()?)),
            WebhookAuthType::None => None,
        };
        Ok(WebhookBackend {
            url: s.url.clone(),
            client,
            auth,
        })
    }

    async fn post(
        &self,
        action: &'static str,
        t: &Target,
    ) -> Result<serde_json::Value, BackendError> {
        t.check()?;
        let mut req = self.client.post(t.fill(&self.url)).json(&json!({
            "action": action,
            "module": t.module,
            "instance_id": t.instance,
            "kill_id": t.kill_id,
            "request_id": t.request_id,
        }));
        if let Some((header, value)) = &self.auth {
            req = req.header(*header, value);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                BackendError::Timeout {
                    action,
                    seconds: 0.0,
                }
            } else {
                BackendError::Unreachable {
                    action,
                    detail: e.to_string(),
                }
            }
        })?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(BackendError::Http {
                action,
                status: status.as_u16(),
                body: body.chars().take(512).collect(),
            });
        }
        Ok(serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
    }
}

impl Backend for WebhookBackend {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn restart<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move { self.post("restart", t).await.map(|_| ()) })
    }

    fn rollback<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move { self.post("rollback", t).await.map(|_| ()) })
    }

    fn status<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let v = self.post("status", t).await?;
            Ok(v.get("running")
                .or_else(|| v.get("healthy"))
                .and_then(|b| b.as_bool())
                .unwrap_or(true))
        })
    }
}
