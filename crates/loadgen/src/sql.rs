//! The database side of the run, through `psql` and `pgbench`: the rotation ceiling
//! (one refresh's statements replayed by pgbench, nothing else in the way) and the
//! bulk sessions of the large-table comparison.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::io::Write as _;

use serde::Serialize;

/// Size of a sealed grace-window response as Tessera stores it (measured on a real
/// refresh with EdDSA access tokens: `SELECT length(sealed_successor)`).
pub const SEALED_SUCCESSOR_BYTES: usize = 676;

/// Where the database is and which client programs to run.
#[derive(Debug, Clone)]
pub struct Postgres {
    pub url: String,
    pub psql: String,
    pub pgbench: String,
}

/// What one pgbench run measured.
#[derive(Debug, Clone, Serialize)]
pub struct PgbenchResult {
    pub clients: usize,
    pub transactions_per_second: f64,
    pub latency_average_ms: f64,
    pub failed: u64,
}

impl Postgres {
    /// Runs `sql` with psql, stopping at the first error; returns its output.
    ///
    /// # Errors
    /// psql cannot be started or a statement failed.
    pub fn execute(&self, sql: &str) -> Result<String, String> {
        let mut child = Command::new(&self.psql)
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url,
                "-f",
                "-",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", self.psql))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(sql.as_bytes())
                .map_err(|error| format!("cannot write to psql: {error}"))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|error| format!("psql failed: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "psql failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// One session with one unused refresh token per pgbench client
    /// (`pgb-s-<client>`), owned by one user. Safe to call again.
    ///
    /// # Errors
    /// As [`Self::execute`].
    pub fn prepare_rotation(&self, clients: usize) -> Result<(), String> {
        let last = clients.saturating_sub(1);
        self.execute(&format!(
            "INSERT INTO users (id, email, password_hash, roles, created_at) \
               VALUES ('pgb-user', 'pgbench@bench.invalid', 'not-a-hash', '', localtimestamp) \
               ON CONFLICT DO NOTHING;\n\
             INSERT INTO sessions (id, user_id, created_at, absolute_expires_at, \
                                   last_refreshed_at, ip, user_agent) \
               SELECT 'pgb-s-' || g, 'pgb-user', localtimestamp, \
                      localtimestamp + interval '30 days', localtimestamp, '127.0.0.1', \
                      'tessera-loadgen' \
               FROM generate_series(0, {last}) g ON CONFLICT DO NOTHING;\n\
             INSERT INTO refresh_tokens (id, session_id, generation, token_hash, issued_at) \
               SELECT 'pgb-t-' || g, 'pgb-s-' || g, 1, sha256(('pgb-t-' || g)::bytea), \
                      localtimestamp \
               FROM generate_series(0, {last}) g ON CONFLICT DO NOTHING;\n"
        ))
        .map(drop)
    }

    /// Runs `script` with `clients` connections for `duration`, prepared statements,
    /// no vacuum.
    ///
    /// # Errors
    /// pgbench cannot be started, fails, or prints no throughput.
    pub fn pgbench(
        &self,
        script: &Path,
        clients: usize,
        duration: Duration,
    ) -> Result<PgbenchResult, String> {
        let threads = clients.clamp(1, 2);
        let output = Command::new(&self.pgbench)
            .args(["-n", "-M", "prepared"])
            .arg(format!("-c{clients}"))
            .arg(format!("-j{threads}"))
            .arg(format!("-T{}", duration.as_secs().max(1)))
            .arg("-f")
            .arg(script)
            .arg(&self.url)
            .output()
            .map_err(|error| format!("cannot start {}: {error}", self.pgbench))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "pgbench failed: {}{}",
                stdout.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let number_after = |prefix: &str| {
            stdout
                .lines()
                .find_map(|line| line.trim().strip_prefix(prefix))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|value| value.parse::<f64>().ok())
        };
        Ok(PgbenchResult {
            clients,
            transactions_per_second: number_after("tps = ")
                .ok_or_else(|| format!("pgbench printed no tps: {stdout}"))?,
            latency_average_ms: number_after("latency average = ").unwrap_or(0.0),
            failed: number_after("number of failed transactions: ").map_or(0, |n| n as u64),
        })
    }

    /// Inserts `count` live sessions, each with one unused refresh token, spread over
    /// `count / 100` users, then analyses the tables and checkpoints (so the
    /// measurement after it is not paying for the bulk write). Returns how long it took.
    ///
    /// # Errors
    /// As [`Self::execute`].
    pub fn bulk_sessions(&self, count: usize) -> Result<Duration, String> {
        let started = Instant::now();
        let users = (count / 100).max(1);
        // Random (md5) ids: Tessera's session ids are time-ordered UUIDv7 and its token
        // ids random UUIDv4; random keys are the harder case for the indexes.
        self.execute(&format!(
            "INSERT INTO users (id, email, password_hash, roles, created_at) \
               SELECT 'bulk-user-' || g, 'bulk-' || g || '@bench.invalid', 'not-a-hash', '', \
                      localtimestamp \
               FROM generate_series(1, {users}) g;\n\
             INSERT INTO sessions (id, user_id, created_at, absolute_expires_at, \
                                   last_refreshed_at, ip, user_agent) \
               SELECT md5('bulk-session-' || g)::uuid::text, 'bulk-user-' || (g % {users} + 1), \
                      localtimestamp - interval '1 day', localtimestamp + interval '29 days', \
                      localtimestamp - interval '1 hour', '10.0.0.1', 'Mozilla/5.0 (bench)' \
               FROM generate_series(1, {count}) g;\n\
             INSERT INTO refresh_tokens (id, session_id, generation, token_hash, issued_at) \
               SELECT md5('bulk-token-' || g)::uuid::text, md5('bulk-session-' || g)::uuid::text, \
                      1, sha256(('bulk-token-' || g)::bytea), localtimestamp - interval '1 hour' \
               FROM generate_series(1, {count}) g;\n\
             ANALYZE users;\nANALYZE sessions;\nANALYZE refresh_tokens;\nCHECKPOINT;\n"
        ))?;
        Ok(started.elapsed())
    }

    /// How many rows `table` has.
    ///
    /// # Errors
    /// As [`Self::execute`].
    pub fn count(&self, table: &str) -> Result<u64, String> {
        self.execute(&format!("SELECT count(*) FROM {table};"))?
            .parse()
            .map_err(|error| format!("count of {table}: {error}"))
    }
}

/// The pgbench script: the statements of one refresh as `tessera` sends them
/// (`crates/infra-diesel/src/sessions.rs`: `find_refresh_token`, then
/// `rotate_in_transaction` in one transaction; `crates/infra-diesel/src/audit.rs`: the
/// audit event), each its own round trip as in the server, with `now` computed by
/// the database instead of bound. Client N rotates its own session `pgb-s-N`: the
/// lookup finds its unused token through the partial unique index (one row, as the
/// server's lookup by primary key) and aliases the two columns the next statements need.
pub fn rotation_script() -> String {
    let sealed = SEALED_SUCCESSOR_BYTES;
    format!(
        r#"-- Generated by tessera-loadgen: one refresh's database work, as tessera issues it.
SELECT "refresh_tokens"."id" AS tok, "refresh_tokens"."session_id", "refresh_tokens"."generation" AS gen, "refresh_tokens"."token_hash", "refresh_tokens"."issued_at", "refresh_tokens"."used_at", "refresh_tokens"."sealed_successor", "sessions"."id", "sessions"."user_id", "sessions"."created_at", "sessions"."absolute_expires_at", "sessions"."last_refreshed_at", "sessions"."revoked_at", "sessions"."revocation_reason", "sessions"."ip", "sessions"."user_agent", "users"."id", "users"."email", "users"."password_hash", "users"."roles", "users"."created_at", "users"."disabled_at" FROM ("refresh_tokens" INNER JOIN ("sessions" LEFT OUTER JOIN "users" ON ("sessions"."user_id" = "users"."id")) ON ("refresh_tokens"."session_id" = "sessions"."id")) WHERE (("refresh_tokens"."session_id" = 'pgb-s-' || :client_id::text) AND ("refresh_tokens"."used_at" IS NULL)) LIMIT 1
\gset
BEGIN;
UPDATE "refresh_tokens" SET "used_at" = localtimestamp, "sealed_successor" = decode(repeat('5a', {sealed}), 'hex') WHERE ((("refresh_tokens"."id" = :tok) AND ("refresh_tokens"."used_at" IS NULL)) AND ("refresh_tokens"."session_id" = ANY(SELECT "sessions"."id" FROM "sessions" WHERE ((("sessions"."id" = 'pgb-s-' || :client_id::text) AND ("sessions"."revoked_at" IS NULL)) AND ("sessions"."absolute_expires_at" > localtimestamp)))));
INSERT INTO "refresh_tokens" ("id", "session_id", "generation", "token_hash", "issued_at", "used_at", "sealed_successor") VALUES (gen_random_uuid()::text, 'pgb-s-' || :client_id::text, :gen::int + 1, sha256(gen_random_uuid()::text::bytea), localtimestamp, DEFAULT, DEFAULT);
UPDATE "sessions" SET "last_refreshed_at" = localtimestamp WHERE (("sessions"."id" = 'pgb-s-' || :client_id::text) AND ("sessions"."revoked_at" IS NULL));
COMMIT;
INSERT INTO "auth_events" ("at", "kind", "user_id", "session_id", "ip", "user_agent", "code", "actor_id") VALUES (localtimestamp, 'refreshed', 'pgb-user', 'pgb-s-' || :client_id::text, '127.0.0.1', NULL, DEFAULT, DEFAULT);
"#
    )
}
