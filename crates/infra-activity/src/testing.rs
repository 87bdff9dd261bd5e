//! Redis for tests (feature `testing`): a key prefix of its own per test on the shared
//! Redis, removed on drop, and throwaway `redis-server` processes on spare ports for
//! the fault tests, killed on drop (also when the test panics).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::RedisConnection;
use crate::redis::DEFAULT_COMMAND_TIMEOUT;

/// Where the Redis tests connect.
pub const REDIS_URL_VARIABLE: &str = "TESSERA_TEST_REDIS_URL";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The `redis-server` the fault tests start.
pub const REDIS_SERVER_VARIABLE: &str = "TESSERA_TEST_REDIS_SERVER";
const DEFAULT_REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A key prefix no other test uses: `tessera-test:<random>:`.
pub fn unique_prefix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("tessera-test:{:016x}:", hasher.finish())
}

/// A prefix of its own on the shared test Redis; its keys are deleted on drop.
#[derive(Debug)]
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    /// A fresh prefix on the Redis named by `TESSERA_TEST_REDIS_URL` (default
    /// `redis://127.0.0.1:6379`).
    ///
    /// When Redis cannot be reached this prints `SKIPPED: Redis unreachable ...` and
    /// returns `None`, unless the environment variable `CI` is set: then it panics, so
    /// no test passes in CI without running.
    ///
    /// # Panics
    /// As above, in CI.
    pub fn shared() -> Option<Self> {
        let url = std::env::var(REDIS_URL_VARIABLE).unwrap_or_else(|_| DEFAULT_REDIS_URL.into());
        if let Err(error) = ping(&url) {
            if std::env::var_os("CI").is_some() {
                panic!("Redis unreachable (CI is set, so this test fails): {error}");
            }
            eprintln!(
                "SKIPPED: Redis unreachable ({error}); set {REDIS_URL_VARIABLE} to run the Redis tests"
            );
            return None;
        }
        Some(Self {
            url,
            prefix: unique_prefix(),
        })
    }

    /// A connection with this test's prefix (inside a Tokio runtime).
    ///
    /// # Panics
    /// When the URL is invalid.
    pub fn connection(&self) -> RedisConnection {
        RedisConnection::open(&self.url, &self.prefix, DEFAULT_COMMAND_TIMEOUT)
            .unwrap_or_else(|error| panic!("cannot open the test Redis: {error}"))
    }

    /// How many keys this test's prefix holds.
    ///
    /// # Panics
    /// When Redis cannot be reached.
    pub fn key_count(&self) -> usize {
        self.keys().len()
    }

    fn keys(&self) -> Vec<String> {
        let mut connection = ::redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|error| panic!("cannot reach the test Redis: {error}"));
        let keys: Result<Vec<String>, _> = ::redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg(format!("{}*", self.prefix))
            .arg("COUNT")
            .arg(1000)
            .clone()
            .iter(&mut connection)
            .and_then(Iterator::collect);
        keys.unwrap_or_else(|error| panic!("cannot list test keys: {error}"))
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let removed = ::redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .and_then(|mut connection| {
                let keys: Vec<String> = ::redis::cmd("SCAN")
                    .cursor_arg(0)
                    .arg("MATCH")
                    .arg(format!("{}*", self.prefix))
                    .arg("COUNT")
                    .arg(1000)
                    .clone()
                    .iter(&mut connection)?
                    .collect::<Result<_, _>>()?;
                if keys.is_empty() {
                    return Ok(());
                }
                ::redis::cmd("DEL").arg(keys).exec(&mut connection)
            });
        if let Err(error) = removed {
            eprintln!("cannot remove the test keys under {}: {error}", self.prefix);
        }
    }
}

/// A throwaway `redis-server` on a spare loopback port, without persistence, killed on
/// drop. Stopping it harms no other test.
#[derive(Debug)]
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one and waits until it answers `PING`.
    ///
    /// # Panics
    /// When `redis-server` cannot be started or does not answer within 10 s.
    pub fn start() -> Self {
        let port = spare_port();
        let dir = std::env::temp_dir().join(format!(
            "tessera-redis-{}",
            unique_prefix().trim_end_matches(':').replace(':', "-")
        ));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
        let mut server = Self {
            port,
            child: None,
            dir,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it with SIGKILL (a crash: no goodbye to clients) and waits for it to end.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty (as a restart without persistence
    /// leaves it), and waits until it answers.
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub fn restart(&mut self) {
        self.kill();
        let program =
            std::env::var(REDIS_SERVER_VARIABLE).unwrap_or_else(|_| DEFAULT_REDIS_SERVER.into());
        let child = Command::new(&program)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {program}: {error}"));
        self.child = Some(child);
        let url = self.url();
        for _ in 0..200 {
            if ping(&url).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "redis-server on port {} did not answer within 10 s",
            self.port
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback port that was free a moment ago (bound to port 0, then released).
///
/// # Panics
/// When no port can be bound.
pub fn spare_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|error| panic!("no spare port: {error}"))
}

fn ping(url: &str) -> Result<(), ::redis::RedisError> {
    let client = ::redis::Client::open(url)?;
    let mut connection = client.get_connection_with_timeout(Duration::from_millis(500))?;
    ::redis::cmd("PING")
        .query::<String>(&mut connection)
        .map(drop)
}
