//! Processes for the multi-node and fault tests: `tessera serve` nodes and a throwaway
//! PostgreSQL cluster, each killed on drop (also when the test panics), so no test
//! leaves a process behind or harms the shared services.

#![allow(
    dead_code,
    reason = "each test binary uses the part of the support it needs"
)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tessera_infra_activity::testing::{spare_port, unique_prefix};

/// A name no other test uses, for files and folders.
pub fn unique_name() -> String {
    unique_prefix().trim_end_matches(':').replace(':', "-")
}

/// The `tessera` binary with `environment` and no `TESSERA_*` of the test's own.
pub fn tessera(environment: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") {
            command.env_remove(key);
        }
    }
    command.envs(environment.iter().map(|(key, value)| (key, value)));
    command.env("RUST_LOG", "info").stdin(Stdio::null());
    command
}

/// One `tessera serve` process on a spare loopback port, killed on drop; its log is
/// printed when the test panics.
pub struct Node {
    pub address: String,
    child: Child,
    log: PathBuf,
}

impl Node {
    pub fn spawn(environment: &[(String, String)]) -> Self {
        let port = spare_port();
        let log = std::env::temp_dir().join(format!("tessera-node-{}.log", unique_name()));
        let file = std::fs::File::create(&log).unwrap();
        let child = tessera(environment)
            .arg("serve")
            .env("TESSERA_BIND", format!("127.0.0.1:{port}"))
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Self {
            address: format!("http://127.0.0.1:{port}"),
            child,
            log,
        }
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/readyz", self.address);
        loop {
            if let Ok(response) = client.get(&url).send().await
                && response.status() == StatusCode::OK
            {
                return;
            }
            assert!(Instant::now() < deadline, "{url} not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no draining, no goodbye, as a crash or the OOM killer.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- last lines of {} ({}):",
                self.address,
                self.log.display()
            );
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The single number `sql` (`SELECT COUNT(*) AS n ...`) gives on the PostgreSQL at `url`.
pub fn count(url: &str, sql: &str) -> i64 {
    use diesel::sql_types::BigInt;
    use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut connection = PgConnection::establish(url).unwrap();
    diesel::sql_query(sql)
        .get_result::<Count>(&mut connection)
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .n
}

/// CPU seconds (user + system) used so far by the processes whose command name is
/// `name` (`postgres`, `redis-server`, `tessera`), or by process `pid`; from `/proc`,
/// for the capacity measurement.
pub fn cpu_seconds(name: Option<&str>, pid: Option<u32>) -> f64 {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for entry in entries.flatten() {
        let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid.is_some_and(|pid| pid != id) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{id}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if name.is_some_and(|name| &stat[open + 1..close] != name) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
        let used: f64 = [11, 12]
            .iter()
            .filter_map(|&index| fields.get(index)?.parse::<f64>().ok())
            .sum();
        total += used / ticks_per_second;
    }
    total
}

/// The PostgreSQL 15 programs the fault tests use.
const POSTGRES_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A throwaway PostgreSQL cluster (`initdb`, `pg_ctl`) on a spare loopback port, trust
/// authentication, no fsync; stopped and deleted on drop. Stopping it harms no other
/// test. As root (CI) its programs run as the `postgres` user, since they refuse root.
pub struct PostgresCluster {
    pub port: u16,
    dir: PathBuf,
    as_root: bool,
}

impl PostgresCluster {
    /// `None` (with a notice) when PostgreSQL 15's programs are not installed outside CI.
    pub fn start() -> Option<Self> {
        if !std::path::Path::new(POSTGRES_BIN).join("initdb").exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{POSTGRES_BIN}/initdb missing (CI is set, so this test fails)"
            );
            eprintln!("SKIPPED: {POSTGRES_BIN}/initdb not installed");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("tessera-pg-{}", unique_name()));
        std::fs::create_dir_all(&dir).unwrap();
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|output| output.stdout.starts_with(b"0\n"));
        if as_root {
            let chowned = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(chowned.success());
        }
        let cluster = Self {
            port: spare_port(),
            dir,
            as_root,
        };
        let initdb = cluster
            .program("initdb")
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(cluster.data())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(initdb.success(), "initdb failed");
        cluster.pg_ctl_start();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn program(&self, name: &str) -> Command {
        let path = format!("{POSTGRES_BIN}/{name}");
        if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--", &path]);
            command
        } else {
            Command::new(path)
        }
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            self.port,
            self.dir.display()
        );
        let started = self
            .program("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-w", "-t", "30", "-l"])
            .arg(self.dir.join("postgres.log"))
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(started.success(), "pg_ctl start failed");
    }

    /// Stops it; `immediate` is a crash (no checkpoint, connections cut), `fast` a
    /// clean shutdown that aborts open transactions.
    pub fn stop(&self, mode: &str) -> bool {
        self.program("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", mode, "-w", "-t", "30", "stop"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Starts it again on the same port.
    pub fn start_again(&self) {
        self.pg_ctl_start();
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let _ = self.stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
