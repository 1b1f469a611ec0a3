//! `TestApp`: a real cofre server on port 0 over a fresh store, with typed request helpers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use cofre::clock::{Clock, ManualClock};
use cofre::config::{Config, TlsMode};
use cofre::domain::authorization::{Resource, Resources};
use cofre::domain::network::IpAllowList;
use cofre::service::admin::apps::{AuthMethods, CreatedApplication, NewApplication, create_application};
use cofre::state::AppState;
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const POSTGRES_ENV: &str = "COFRE_TEST_POSTGRES_URL";

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend of `COFRE_TEST_POSTGRES_URL` (tests that need it are ignored
    /// when it was not set at build time, so it is there when they run).
    pub fn postgres() -> Self {
        match std::env::var(POSTGRES_ENV) {
            Ok(url) if !url.is_empty() => Self::Postgres(url),
            _ => panic!("{POSTGRES_ENV} is not set: run this test with it, or leave it ignored"),
        }
    }
}

/// Runs each named `async fn(Backend)` once on SQLite and once on PostgreSQL. The PostgreSQL
/// run is compiled as ignored (reported as skipped) when `COFRE_TEST_POSTGRES_URL` is not set;
/// `python: …` marks tests that also need the signers of `COFRE_TEST_PYTHON`; `sshd: …` those that
/// need root and OpenSSH's sshd (`COFRE_TEST_SSHD`); `browser: …` those that drive Chromium
/// (`COFRE_TEST_CHROMEDRIVER`).
#[macro_export]
macro_rules! on_both_stores {
    (sshd: $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(cofre_test_sshd), ignore = "needs COFRE_TEST_SSHD (Debian's openssh-server, as root)")]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(all(cofre_test_postgres, cofre_test_sshd)), ignore = "needs COFRE_TEST_POSTGRES_URL and COFRE_TEST_SSHD")]
            async fn postgres() {
                super::$name($crate::helpers::Backend::postgres()).await;
            }
        }
    )*};
    (browser: $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(cofre_test_browser), ignore = "needs COFRE_TEST_CHROMEDRIVER (Debian's chromium-driver)")]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(all(cofre_test_postgres, cofre_test_browser)), ignore = "needs COFRE_TEST_POSTGRES_URL and COFRE_TEST_CHROMEDRIVER")]
            async fn postgres() {
                super::$name($crate::helpers::Backend::postgres()).await;
            }
        }
    )*};
    (python: $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(cofre_test_python), ignore = "needs COFRE_TEST_PYTHON")]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(all(cofre_test_postgres, cofre_test_python)), ignore = "needs COFRE_TEST_POSTGRES_URL and COFRE_TEST_PYTHON")]
            async fn postgres() {
                super::$name($crate::helpers::Backend::postgres()).await;
            }
        }
    )*};
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL")]
            async fn postgres() {
                super::$name($crate::helpers::Backend::postgres()).await;
            }
        }
    )*};
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// Where the web proxy of remote sessions listens.
    pub proxy: SocketAddr,
    /// Where the SSH gateway listens, when the config turned it on.
    pub ssh: Option<SocketAddr>,
    pub base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub config: Config,
    pub data_dir: tempfile::TempDir,
    handle: axum_server::Handle<SocketAddr>,
}

/// A client that can authenticate: the app's ids and its current token.
pub struct Client {
    pub app: CreatedApplication,
    pub token: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        // reqwest is built without a default TLS provider; the tests use the server's (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            data_dir: data_dir.path().to_path_buf(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            proxy_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: TlsMode::Off,
            // The tests' devices listen on loopback, which the default policy refuses; the tests
            // of that policy set their own.
            target_networks: anywhere(),
            ..Config::default()
        };
        if let Backend::Postgres(url) = &backend {
            config.database_url = fresh_postgres_schema(url).await;
        }
        tweak(&mut config);
        Self::start(config, data_dir).await
    }

    /// A second server process on this one's database and master key, its clock
    /// `offset_secs` ahead of this one's: what another cofre process (or a restart) sees.
    pub async fn sibling(&self, offset_secs: i64) -> Self {
        self.sibling_with(offset_secs, |_| {}).await
    }

    /// The same, with its configuration changed by `tweak`.
    pub async fn sibling_with(&self, offset_secs: i64, tweak: impl FnOnce(&mut Config)) -> Self {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            data_dir: data_dir.path().to_path_buf(),
            database_url: self.config.database_url(),
            master_key_file: Some(self.config.master_key_path()),
            public_url: String::new(),
            proxy_url: String::new(),
            ..self.config.clone()
        };
        tweak(&mut config);
        let clock = Arc::new(ManualClock::starting_at(self.clock.now_ms() + offset_secs * 1000));
        Self::start_with_clock(config, data_dir, clock).await
    }

    async fn start(config: Config, data_dir: tempfile::TempDir) -> Self {
        Self::start_with_clock(config, data_dir, Arc::new(ManualClock::starting_now())).await
    }

    async fn start_with_clock(config: Config, data_dir: tempfile::TempDir, clock: Arc<ManualClock>) -> Self {
        let app = cofre::App::build(config.clone(), clock.clone()).await.expect("app builds");
        let addr = app.local_addr();
        let proxy = app.proxy_addr();
        let ssh = app.ssh_addr();
        let scheme = if app.is_tls() { "https" } else { "http" };
        let state = app.state();
        let handle = app.handle();
        tokio::spawn(async move {
            app.run().await.expect("server runs");
        });
        let client = reqwest::Client::builder().build().expect("client");
        Self { addr, proxy, ssh, base: format!("{scheme}://{addr}"), state, clock, client, config, data_dir, handle }
    }

    /// Stops serving (the store and data directory stay, for a sibling to reopen).
    pub fn stop(&self) {
        self.handle.shutdown();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates an application through the same service the CLI uses.
    pub async fn create_app(&self, resources: &[Resource], read_only: bool, ips: &[&str]) -> CreatedApplication {
        self.create_app_with(NewApplication {
            read_only,
            allowed_ips: IpAllowList::parse(ips.iter().copied()).expect("ips"),
            ..NewApplication::oauth2("test app", resources.iter().copied().collect::<Resources>())
        })
        .await
    }

    pub async fn create_app_with(&self, new: NewApplication) -> CreatedApplication {
        create_application(&self.state.core, new).await.expect("application created")
    }

    /// An application (resource `info`) that signs its requests: OAuth 1.0a and SigV4 credentials.
    pub async fn signing_app(&self, name: &str) -> CreatedApplication {
        self.create_app_with(NewApplication {
            methods: AuthMethods { oauth1: true, aws: true, ..AuthMethods::default() },
            ..NewApplication::oauth2(name, [Resource::Info].into_iter().collect())
        })
        .await
    }

    /// An application with `resources` and a token for it.
    pub async fn client(&self, resources: &[Resource]) -> Client {
        let app = self.create_app(resources, false, &["*"]).await;
        let token = self.token_for(&app).await;
        Client { app, token }
    }

    pub async fn token_for(&self, app: &CreatedApplication) -> String {
        let reply = self.send(token_request(&self.client, &self.base, app)).await;
        assert_eq!(reply.status, StatusCode::OK, "token request failed: {}", reply.body);
        reply.body["access_token"].as_str().expect("access_token").to_owned()
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, headers, body }
    }

    /// A request with the client's bearer token.
    pub fn authed(&self, client: &Client, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(&client.token)
    }

    pub async fn call(&self, client: &Client, method: Method, path: &str) -> Reply {
        self.send(self.authed(client, method, path)).await
    }

    /// A cofre user without a password (one who opens sessions or owns MySafe items).
    pub async fn create_user(&self, username: &str) {
        let user = cofre::service::admin::users::NewUser {
            username: username.into(),
            display_name: String::new(),
            email: String::new(),
            password: None,
            groups: vec![],
        };
        cofre::service::admin::users::create_user(&self.state.core, user).await.expect("user");
    }

    pub async fn post_json(&self, client: &Client, path: &str, body: Value) -> Reply {
        self.send(self.authed(client, Method::POST, path).json(&body)).await
    }

    pub fn sqlite_files(&self) -> Vec<PathBuf> {
        let db = self.data_dir.path().join("cofre.db");
        vec![db.clone(), db.with_extension("db-wal"), db.with_extension("db-shm")]
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// The client-credentials token request for `app` to the server at `base`.
pub fn token_request(http: &reqwest::Client, base: &str, app: &CreatedApplication) -> reqwest::RequestBuilder {
    http.post(format!("{base}/iso/oauth2/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.as_str()),
    ])
}

/// A new schema in the test database, reached through `search_path` in the URL. Schemas are
/// named `t_<unix seconds>_<uuid>`; the first one a test process makes also drops the schemas
/// earlier runs left behind (a day old, or named the older way), so the database does not grow
/// with every run.
pub async fn fresh_postgres_schema(base: &str) -> String {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    sqlx::any::install_default_drivers();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let schema = format!("t_{now}_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::AnyPool::connect(base).await.expect("PostgreSQL reachable at COFRE_TEST_POSTGRES_URL");
    SWEPT.get_or_init(|| drop_old_schemas(&pool, now)).await;
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&pool).await.expect("create schema");
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// Drops the test schemas of runs that ended long ago: named `t_<seconds>_…` over a day ago (no
/// run lasts that long, so a concurrent run's schemas stay), or `t_<uuid>` as before.
async fn drop_old_schemas(pool: &sqlx::AnyPool, now: u64) {
    let stale = |name: &str| match name.strip_prefix("t_").map(|rest| rest.split_once('_')) {
        Some(Some((made, _))) => made.parse::<u64>().is_ok_and(|made| made + 86_400 < now),
        Some(None) => name.len() == 34 && name[2..].bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    };
    let names =
        sqlx::query("SELECT CAST(nspname AS TEXT) AS name FROM pg_namespace WHERE nspname LIKE 't!_%' ESCAPE '!'")
            .fetch_all(pool)
            .await
            .expect("schemas");
    for name in names.iter().map(|row| sqlx::Row::get::<String, _>(row, "name")).filter(|n| stale(n)) {
        // Another process sweeping at the same time may have dropped it first.
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(pool).await;
    }
}

/// The envelope every error carries, built here independently of the server's code.
pub fn error_envelope(status: u16, code: u16, message: &str) -> Value {
    serde_json::json!({
        "code": status,
        "response": {
            "status": status, "message": message, "error": true, "error_code": 1, "detail": "",
            "mensagem": message, "erro": true, "cod_erro": 1
        },
        "exception": {"code": code, "message": message, "detail": null}
    })
}

pub fn success_block(status: u16, message: &str) -> Value {
    serde_json::json!({
        "status": status, "message": message, "error": false, "error_code": 0, "detail": "",
        "mensagem": message, "erro": false, "cod_erro": 0
    })
}

/// A random 32-hex marker to plant in secrets and then search for.
pub fn canary() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Resolves every `*.localhost` name to 127.0.0.1, as browsers do (RFC 6761 §6.3); other names
/// as the system does.
pub struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        Box::pin(async move {
            if name == "localhost" || name.ends_with(".localhost") {
                let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(SocketAddr::from(([127, 0, 0, 1], 0))));
                return Ok(addrs);
            }
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// `target_networks` that allow every address (cofre's own listeners stay refused).
pub fn anywhere() -> Vec<cofre::domain::network::IpRule> {
    ["0.0.0.0/0", "::/0"].iter().map(|r| r.parse().expect("rule")).collect()
}
