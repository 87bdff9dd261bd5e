//! Three `tessera serve` processes on loopback ports, sharing one fresh PostgreSQL
//! database and one Redis key prefix (issue 7, item 3): a session moves freely between
//! nodes, a logout on one is refused on the others at the next request, concurrent
//! refreshes spread over the nodes rotate once, and a key rotated by the operator
//! verifies everywhere. Skipped with a notice when PostgreSQL or Redis is unreachable
//! outside CI. Every process is killed on drop, also when a test panics.
//!
//! `refresh_throughput_one_node_versus_two` (ignored) is the measurement behind
//! `docs/deployment.md`: `cargo test --release -p tessera-server --test cluster --
//! --ignored --nocapture`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a failed unwrap is a failed test; the measurement prints its numbers"
)]

use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Node;
use tessera_infra_activity::testing::{TestRedis, unique_prefix};
use tessera_infra_diesel::testing::TestDatabase;

mod support;

const PEPPER: &str = "a pepper every node of the cluster shares, 32+ characters";
const PASSWORD: &str = "correct horse battery staple";

/// The nodes, then (dropped after them) their database and Redis prefix.
struct Cluster {
    nodes: Vec<Node>,
    environment: Vec<(String, String)>,
    client: reqwest::Client,
    database_url: String,
    redis: TestRedis,
    _database: TestDatabase,
}

impl Cluster {
    /// `count` nodes on a new database and a new Redis prefix, with `overrides`;
    /// `None` (notice printed) when PostgreSQL or Redis is unreachable outside CI.
    async fn start(count: usize, overrides: &[(&str, &str)]) -> Option<Self> {
        let redis = TestRedis::shared()?;
        let database = tokio::task::spawn_blocking(TestDatabase::postgres)
            .await
            .unwrap()?;
        let mut environment: Vec<(String, String)> = [
            ("TESSERA_DATABASE_URL", database.url.as_str()),
            ("TESSERA_DATABASE_POOL_SIZE", "5"),
            ("TESSERA_REDIS_URL", redis.url.as_str()),
            ("TESSERA_REDIS_PREFIX", redis.prefix.as_str()),
            ("TESSERA_TOKEN_PEPPER", PEPPER),
            ("TESSERA_ISSUER", "http://tessera.cluster.test"),
            ("TESSERA_LOG_FORMAT", "json"),
            ("TESSERA_RATE_LIMIT", "off"),
            ("TESSERA_SHUTDOWN_TIMEOUT", "1s"),
            // Only Redis can carry a revocation to the other nodes within the test.
            ("TESSERA_REVOCATION_SYNC_INTERVAL", "1h"),
            ("TESSERA_SIGNING_KEY_RELOAD_INTERVAL", "1s"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
        for (key, value) in overrides {
            environment.retain(|(known, _)| known != key);
            environment.push(((*key).to_owned(), (*value).to_owned()));
        }
        let mut cluster = Self {
            nodes: Vec::new(),
            database_url: database.url.clone(),
            environment,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            redis,
            _database: database,
        };
        // The first node creates the signing key on the fresh database before the
        // others start (see docs/deployment.md on a first start).
        for node in 0..count {
            cluster.spawn_node();
            if node == 0 {
                cluster.wait_ready(0).await;
            }
        }
        for node in 0..count {
            cluster.wait_ready(node).await;
        }
        Some(cluster)
    }

    fn tessera(&self) -> std::process::Command {
        support::tessera(&self.environment)
    }

    fn spawn_node(&mut self) {
        self.nodes.push(Node::spawn(&self.environment));
    }

    async fn wait_ready(&self, node: usize) {
        self.nodes[node].wait_ready(&self.client).await;
        let body: Value = self
            .client
            .get(self.url(node, "/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["checks"]["redis"], "ok", "{body}");
    }

    fn url(&self, node: usize, path: &str) -> String {
        format!("{}{path}", self.nodes[node].address)
    }

    async fn post(&self, node: usize, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(node, path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn bearer(
        &self,
        node: usize,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, self.url(node, path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn verify(&self, node: usize, access_token: &str) -> StatusCode {
        self.bearer(node, reqwest::Method::GET, "/v1/auth/verify", access_token)
            .await
            .0
    }

    /// Registers a new user on `node` and logs in there.
    async fn new_session(&self, node: usize) -> Value {
        let email = format!("{}@cluster.test", unique_prefix().replace(':', "-"));
        let credentials = json!({ "email": email, "password": PASSWORD });
        let (status, body) = self.post(node, "/v1/auth/register", &credentials).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = self.post(node, "/v1/auth/login", &credentials).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn refresh(&self, node: usize, refresh_token: &Value) -> (StatusCode, Value) {
        self.post(
            node,
            "/v1/auth/refresh",
            &json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    fn redis_has(&self, key: &str) -> bool {
        let mut connection = ::redis::Client::open(self.redis.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        ::redis::cmd("EXISTS")
            .arg(format!("{}{key}", self.redis.prefix))
            .query::<i64>(&mut connection)
            .unwrap()
            > 0
    }

    fn count(&self, query: &str, session: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut connection = PgConnection::establish(&self.database_url).unwrap();
        diesel::sql_query(query)
            .bind::<Text, _>(session)
            .get_result::<Count>(&mut connection)
            .unwrap()
            .n
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_moves_between_nodes_and_a_logout_on_one_is_refused_on_the_others_at_once() {
    let Some(cluster) = Cluster::start(3, &[]).await else {
        return;
    };
    let (a, b, c) = (0, 1, 2);
    let login = cluster.new_session(a).await;
    let (status, refreshed) = cluster.refresh(b, &login["refresh_token"]).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let access = text(&refreshed["access_token"]);
    let (status, me) = cluster
        .bearer(c, reqwest::Method::GET, "/v1/auth/me", access)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(cluster.verify(c, access).await, StatusCode::OK);
    // Activity recorded on C is what A and B see.
    let session = text(&login["session_id"]);
    assert!(cluster.redis_has(&format!("activity:{session}")));
    // The list is trusted (not bypassed for the database) on every node.
    assert!(cluster.redis_has("revocations:restored"));

    let (status, _) = cluster
        .bearer(a, reqwest::Method::POST, "/v1/auth/logout", access)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The very next request on B and C is refused: the revocation sync runs only
    // hourly here, so Redis carried it.
    assert_eq!(cluster.verify(b, access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(cluster.verify(c, access).await, StatusCode::UNAUTHORIZED);
    let (status, problem) = cluster
        .bearer(b, reqwest::Method::GET, "/v1/auth/me", access)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["code"], "session_revoked", "{problem}");
    let (status, problem) = cluster.refresh(c, &refreshed["refresh_token"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["code"], "session_revoked", "{problem}");
    assert!(cluster.redis_has(&format!("revoked:{session}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_refreshes_over_three_nodes_rotate_once_and_all_get_the_same_answer() {
    let Some(cluster) = Cluster::start(3, &[]).await else {
        return;
    };
    let login = cluster.new_session(0).await;
    let session = text(&login["session_id"]).to_owned();
    let cluster = std::sync::Arc::new(cluster);
    let mut tasks = Vec::new();
    for request in 0..50 {
        let (cluster, token) = (cluster.clone(), login["refresh_token"].clone());
        tasks.push(tokio::spawn(async move {
            cluster.refresh(request % 3, &token).await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        answers.push(body);
    }
    let first = &answers[0];
    for answer in &answers {
        assert_eq!(answer["refresh_token"], first["refresh_token"]);
        assert_eq!(answer["access_token"], first["access_token"]);
    }
    // One rotation: the family has two generations, one `refreshed` event, and the
    // other 49 were answered as repeats inside the grace window.
    let tokens = cluster.count(
        "SELECT COUNT(*) AS n FROM refresh_tokens WHERE session_id = $1",
        &session,
    );
    assert_eq!(tokens, 2);
    let rotations = cluster.count(
        "SELECT COUNT(*) AS n FROM auth_events WHERE session_id = $1 AND kind = 'refreshed'",
        &session,
    );
    assert_eq!(rotations, 1);
    let repeats = cluster.count(
        "SELECT COUNT(*) AS n FROM auth_events WHERE session_id = $1 AND kind = 'refresh_repeated'",
        &session,
    );
    assert_eq!(repeats, 49);
    // The successor works on any node.
    let (status, next) = cluster.refresh(2, &first["refresh_token"]).await;
    assert_eq!(status, StatusCode::OK, "{next}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signing_key_rotated_by_the_operator_verifies_on_every_node() {
    let Some(cluster) = Cluster::start(3, &[]).await else {
        return;
    };
    let output = cluster.tessera().args(["keys", "rotate"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let kid = stdout
        .split_whitespace()
        .skip_while(|word| *word != "key")
        .nth(1)
        .unwrap_or_else(|| panic!("no kid in {stdout:?}"))
        .to_owned();

    // Node A signs with the new key after its next reload (every second here).
    let deadline = Instant::now() + Duration::from_secs(15);
    let access = loop {
        let login = cluster.new_session(0).await;
        let access = text(&login["access_token"]).to_owned();
        let header = jsonwebtoken::decode_header(&access).unwrap();
        if header.kid.as_deref() == Some(kid.as_str()) {
            break access;
        }
        assert!(Instant::now() < deadline, "node A never signed with {kid}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for node in [1, 2] {
        let deadline = Instant::now() + Duration::from_secs(5);
        while cluster.verify(node, &access).await != StatusCode::OK {
            assert!(
                Instant::now() < deadline,
                "node {node} does not verify {kid}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let jwks: Value = cluster
            .client
            .get(cluster.url(node, "/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|key| key["kid"] == kid.as_str()),
            "{jwks}"
        );
    }
}

/// Closed-loop refresh throughput: `clients` sessions, each refreshing its own chain
/// as fast as answers come back, spread round-robin over the nodes, for `duration`.
async fn refreshes_per_second(
    cluster: &std::sync::Arc<Cluster>,
    clients: usize,
    duration: Duration,
) -> f64 {
    let nodes = cluster.nodes.len();
    let mut sessions = Vec::new();
    for client in 0..clients {
        sessions.push(cluster.new_session(client % nodes).await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (client, login) in sessions.into_iter().enumerate() {
        let cluster = cluster.clone();
        tasks.push(tokio::spawn(async move {
            let mut token = login["refresh_token"].clone();
            let mut done = 0_u64;
            let mut turn = client;
            while started.elapsed() < duration {
                let (status, body) = cluster.refresh(turn % nodes, &token).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                token = body["refresh_token"].clone();
                done += 1;
                turn += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    #[allow(clippy::cast_precision_loss, reason = "a rate for a report")]
    let rate = total as f64 / started.elapsed().as_secs_f64();
    rate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check: run it in release with --ignored --nocapture"]
async fn refresh_throughput_one_node_versus_two() {
    let clients: usize = std::env::var("CLUSTER_CLIENTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(32);
    let seconds: u64 = std::env::var("CLUSTER_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(15);
    for nodes in [1, 2] {
        let Some(cluster) = Cluster::start(nodes, &[("TESSERA_DATABASE_POOL_SIZE", "10")]).await
        else {
            return;
        };
        let cluster = std::sync::Arc::new(cluster);
        // Warm-up: connections, caches, the first allocations.
        refreshes_per_second(&cluster, clients, Duration::from_secs(2)).await;
        let cpu = || {
            let nodes: f64 = cluster
                .nodes
                .iter()
                .map(|node| support::cpu_seconds(None, Some(node.pid())))
                .sum();
            [
                nodes,
                support::cpu_seconds(Some("postgres"), None),
                support::cpu_seconds(Some("redis-server"), None),
                support::cpu_seconds(None, Some(std::process::id())),
            ]
        };
        let before = cpu();
        let rate = refreshes_per_second(&cluster, clients, Duration::from_secs(seconds)).await;
        let after = cpu();
        #[allow(clippy::cast_precision_loss, reason = "a share for a report")]
        let share = |index: usize| (after[index] - before[index]) / seconds as f64;
        println!(
            "nodes={nodes} clients={clients} seconds={seconds} refreshes_per_second={rate:.0} \
             cpu_cores_used: tessera={:.2} postgres={:.2} redis={:.2} load_generator={:.2}",
            share(0),
            share(1),
            share(2),
            share(3),
        );
    }
}
