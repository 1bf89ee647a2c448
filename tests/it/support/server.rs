//! alertrouter itself on `127.0.0.1:0`, with an injected clock, for one test.

use std::sync::Arc;
use std::time::Duration;

use alertrouter::App;
use alertrouter::clock::{Clock, ManualClock};
use alertrouter::config::{
    Credential, DatabaseSettings, IngestSettings, Integration, LogFormat, LogSettings, Settings,
};
use alertrouter::core::Severity;
use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use secrecy::SecretString;
use tokio::sync::oneshot;

/// The bearer token of the `am` integration in tests.
pub const TOKEN: &str = "test-token-0123456789";

/// Settings for a test: integration `am` (bearer) and `am-basic` (basic auth).
pub fn settings(database_url: &str) -> Settings {
    Settings {
        source: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        server: Default::default(),
        database: DatabaseSettings {
            url: SecretString::from(database_url.to_string()),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(5),
        },
        ingest: IngestSettings {
            reopen_window: Duration::from_secs(300),
            flapping_reopens: 3,
            flapping_window: Duration::from_secs(600),
            default_severity: Severity::Warning,
            max_body_bytes: alertrouter::config::DEFAULT_MAX_BODY_BYTES,
            large_bodies_in_flight: alertrouter::config::DEFAULT_LARGE_BODIES_IN_FLIGHT,
            request_timeout: Duration::from_secs(3),
            dedup_cache_entries: 1024,
        },
        integrations: vec![
            Integration {
                name: "am".into(),
                credential: Credential::Bearer(SecretString::from(TOKEN.to_string())),
                heartbeat: None,
            },
            Integration {
                name: "am-basic".into(),
                credential: Credential::Basic {
                    username: "alertmanager".into(),
                    password: SecretString::from("basic-secret".to_string()),
                },
                heartbeat: None,
            },
        ],
        log: LogSettings {
            format: LogFormat::Text,
            level: "warn".into(),
        },
        routes: alertrouter::routing::tree::Route::default_root(),
        suppressions: Default::default(),
        reports: Default::default(),
        policies: Default::default(),
        // Tests drive the workers themselves, one step at a time.
        role: alertrouter::config::Role::Api,
        channels: alertrouter::config::ChannelSettings {
            slack_signing_secret: Some(SecretString::from(SLACK_SIGNING_SECRET.to_string())),
            ..Default::default()
        },
        api: {
            let mut api = alertrouter::config::api::ApiSettings::default();
            api.jwt.hs256_secret = Some(SecretString::from(JWT_SECRET.to_string()));
            api
        },
    }
}

/// The API's HS256 secret in tests.
pub const JWT_SECRET: &str = "jwt-test-secret-0123456789abcdef";
/// Slack's signing secret in tests.
pub const SLACK_SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// A token for `sub` with `role` (and `services`), issued now and valid for ten minutes by the
/// test server's clock.
pub fn token(server: &TestServer, sub: &str, role: &str, services: &[&str]) -> String {
    mint(
        JWT_SECRET,
        sub,
        role,
        services,
        server.clock.now().timestamp(),
    )
}

/// An HS256 token signed with `key` for `sub` with `role`, issued at `now` (Unix seconds) and
/// valid for ten minutes.
pub fn mint(key: &str, sub: &str, role: &str, services: &[&str], now: i64) -> String {
    alertrouter::http::api::auth::issue(
        key,
        &alertrouter::http::api::auth::Claims {
            sub: sub.into(),
            role: role.into(),
            services: services.iter().map(|s| s.to_string()).collect(),
            exp: now + 600,
            iat: Some(now),
            nbf: None,
            iss: None,
            aud: None,
        },
    )
    .unwrap()
}

/// A running alertrouter.
pub struct TestServer {
    pub base: String,
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// The fixed time tests start at.
pub fn t0() -> DateTime<Utc> {
    "2026-11-25T19:00:00Z".parse().unwrap()
}

impl TestServer {
    /// Starts alertrouter with a manual clock at [`t0`].
    pub async fn start(settings: Settings) -> TestServer {
        let clock = Arc::new(ManualClock::new(t0()));
        Self::start_with_clock(settings, clock.clone(), clock).await
    }

    /// Starts alertrouter with the given clock (`manual` is what tests move).
    pub async fn start_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
        manual: Arc<ManualClock>,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = App::new(settings, clock).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(alertrouter::serve(app.clone(), listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            base,
            app,
            clock: manual,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Posts a webhook body with the `am` bearer token.
    pub async fn post(&self, body: impl Into<reqwest::Body>) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}/hooks/alertmanager", self.base))
            .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    /// A request to `path` with `token` (and a JSON body): status and JSON answer.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .header(AUTHORIZATION, format!("Bearer {token}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.unwrap()).await
    }

    /// `POST /api/v1/incidents/{incident}/actions` with `action` (a JSON body) as `token`.
    pub async fn act(
        &self,
        token: &str,
        incident: &str,
        action: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let path = format!("/api/v1/incidents/{incident}/actions");
        self.api("POST", &path, token, Some(action)).await
    }

    /// The test clock's time.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use alertrouter::clock::Clock;
        self.clock.now()
    }

    /// The value of one exported series, written as it appears before the value
    /// (`name{label="…"}`); panics, showing the exposition, when there is none.
    pub fn metric(&self, series: &str) -> f64 {
        sample(&self.app.metrics.encode(), series)
    }

    /// A GET of `path`.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Signals shutdown and returns at once (the server goes on through its shutdown delay).
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Ends the server without waiting for its shutdown.
    pub fn abort(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Stops accepting, finishes requests in flight, and returns what `serve` returned.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap()
    }
}

/// Status and JSON body of a response (`null` if the body is not JSON).
/// The value of `series` in a metrics exposition; panics, showing it, when there is none.
pub fn sample(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{exposition}"))
}

pub async fn read(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}
