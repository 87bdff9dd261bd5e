//! The Markdown report: the targets of issue 9 as ratios to the ceilings measured in
//! the same run, each marked PASS or MISS, then every measurement behind them.

use std::fmt::Write as _;

use crate::bench::Results;
use crate::load::{Cell, Scenario};

/// A ratio's verdict: `≥ goal` (throughput) or `≤ goal` (slowdown).
#[derive(Debug, Clone, Copy)]
enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

impl Goal {
    fn text(self) -> String {
        match self {
            Self::AtLeast(goal) => format!("≥ {goal:.2}"),
            Self::AtMost(goal) => format!("≤ {goal:.2}"),
        }
    }

    fn verdict(self, ratio: f64) -> &'static str {
        let pass = match self {
            Self::AtLeast(goal) => ratio >= goal,
            Self::AtMost(goal) => ratio <= goal,
        };
        if pass { "**PASS**" } else { "**MISS**" }
    }
}

fn thousands(value: f64) -> String {
    let rounded = format!("{value:.0}");
    let (sign, digits) = rounded
        .strip_prefix('-')
        .map_or(("", rounded.as_str()), |digits| ("-", digits));
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}")
}

fn rate(value: f64) -> String {
    if value < 100.0 {
        format!("{value:.1}")
    } else {
        thousands(value)
    }
}

/// The cell with the highest throughput.
fn peak<'a>(cells: impl IntoIterator<Item = &'a Cell>) -> Option<&'a Cell> {
    cells
        .into_iter()
        .max_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second))
}

fn of(results: &Results, scenario: Scenario) -> Vec<&Cell> {
    results
        .scenarios
        .iter()
        .filter(|cell| cell.scenario == scenario)
        .collect()
}

fn cores(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |cores| format!("{:.0} %", cores * 100.0))
}

fn cell_table(out: &mut String, cells: &[&Cell]) {
    out.push_str(
        "| scenario | users | req/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU | loadgen CPU | machine CPU | server RSS MiB |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for cell in cells {
        let errors = if cell.errors == 0 {
            "0".to_owned()
        } else {
            format!("{} ({})", cell.errors, cell.error_kinds)
        };
        let _infallible = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} |",
            cell.scenario.name(),
            cell.users,
            rate(cell.requests_per_second),
            cell.p50_ms,
            cell.p99_ms,
            cell.p999_ms,
            errors,
            cores(cell.server_cores),
            cores(Some(cell.client_cores)),
            cores(cell.machine_cores),
            cell.server_rss_mib
                .map_or_else(|| "–".to_owned(), |rss| format!("{rss:.1}")),
        );
    }
}

/// One row of the targets table.
struct Row {
    target: String,
    measured: String,
    ceiling: String,
    ratio: Option<f64>,
    goal: Goal,
    note: Option<&'static str>,
}

fn throughput_row(
    target: &str,
    measured: Option<&Cell>,
    ceiling: Option<(f64, String)>,
    goal: Goal,
    unavailable: bool,
) -> Row {
    let (ceiling_value, ceiling_text) = ceiling.unwrap_or((0.0, "–".to_owned()));
    let measured_text = measured.map_or_else(
        || "–".to_owned(),
        |cell| {
            format!(
                "{} req/s ({} users)",
                rate(cell.requests_per_second),
                cell.users
            )
        },
    );
    Row {
        target: target.to_owned(),
        measured: if unavailable {
            "not available (404)".to_owned()
        } else {
            measured_text
        },
        ceiling: ceiling_text,
        ratio: measured
            .filter(|_| ceiling_value > 0.0 && !unavailable)
            .map(|cell| cell.requests_per_second / ceiling_value),
        goal,
        note: unavailable.then_some("N/A — endpoint not on this build"),
    }
}

/// The report of a run.
pub fn markdown(results: &Results) -> String {
    let mut out = String::new();
    let machine = &results.machine;
    let _ = writeln!(out, "## Benchmark run {}\n", results.run_date);
    let _ = writeln!(
        out,
        "- Machine: {} CPUs ({}), {:.1} GiB memory, Linux {}. Server, ceiling server, \
         load generator and PostgreSQL share it.",
        machine.cpus, machine.cpu_model, machine.memory_gib, machine.kernel
    );
    let _ = writeln!(
        out,
        "- Levels {} concurrent users; per cell {:.1} s warm-up, then {:.1} s measured{}. \
         Wall time of the measurements: {:.0} s; load average {:.2} at the start, {:.2} at the end.",
        results
            .levels
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        results.warmup_seconds,
        results.measure_seconds,
        if results.quick { " (quick mode)" } else { "" },
        results.wall_seconds,
        results.load_average_start,
        results.load_average_end
    );
    if !results.server_settings.is_empty() {
        let _ = writeln!(out, "- Server: {}", results.server_settings);
    }
    out.push('\n');

    // Targets.
    let http = peak(&results.http_ceiling);
    let http_ceiling = http.map(|cell| {
        (
            cell.requests_per_second,
            format!(
                "{} req/s ({} users)",
                rate(cell.requests_per_second),
                cell.users
            ),
        )
    });
    let db = results.db_ceiling.iter().max_by(|a, b| {
        a.transactions_per_second
            .total_cmp(&b.transactions_per_second)
    });
    let db_ceiling = db.map(|run| {
        (
            run.transactions_per_second,
            format!(
                "{} tx/s ({} conns)",
                rate(run.transactions_per_second),
                run.clients
            ),
        )
    });
    let argon2_ceiling = Some((
        results.argon2.hashes_per_second,
        format!(
            "{} hashes/s ({} threads)",
            rate(results.argon2.hashes_per_second),
            results.argon2.threads
        ),
    ));
    let mut rows = vec![
        throughput_row(
            "verify ≥ 0.8 × HTTP ceiling",
            peak(of(results, Scenario::Verify)),
            http_ceiling.clone(),
            Goal::AtLeast(0.8),
            !results.verify_available,
        ),
        throughput_row(
            "me ≥ 0.3 × HTTP ceiling",
            peak(of(results, Scenario::Me)),
            http_ceiling,
            Goal::AtLeast(0.3),
            false,
        ),
        throughput_row(
            "refresh ≥ 0.6 × database ceiling",
            peak(of(results, Scenario::Refresh)),
            db_ceiling,
            Goal::AtLeast(0.6),
            false,
        ),
        throughput_row(
            "login ≥ 0.9 × Argon2 ceiling",
            peak(of(results, Scenario::Login)),
            argon2_ceiling,
            Goal::AtLeast(0.9),
            false,
        ),
    ];
    let flood = &results.flood;
    rows.push(Row {
        target: format!(
            "me p99 during a login flood ({} login users) ≤ 3 × alone",
            flood.login.users
        ),
        measured: format!("{:.2} ms ({} users)", flood.me.p99_ms, flood.me.users),
        ceiling: format!("{:.2} ms alone", flood.alone.p99_ms),
        ratio: (flood.alone.p99_ms > 0.0).then(|| flood.me.p99_ms / flood.alone.p99_ms),
        goal: Goal::AtMost(3.0),
        note: None,
    });
    let bulk = &results.bulk;
    rows.push(Row {
        target: format!(
            "refresh p50 with {} sessions ≤ 1.3 × with {}",
            thousands(bulk.sessions_after as f64),
            thousands(bulk.sessions_before as f64)
        ),
        measured: format!("{:.2} ms ({} users)", bulk.after.p50_ms, bulk.after.users),
        ceiling: format!("{:.2} ms", bulk.before.p50_ms),
        ratio: (bulk.before.p50_ms > 0.0).then(|| bulk.after.p50_ms / bulk.before.p50_ms),
        goal: Goal::AtMost(1.3),
        note: None,
    });
    let idle = results.idle_rss_start_mib.max(results.idle_rss_end_mib);
    rows.push(Row {
        target: "idle RSS < 40 MiB (after start; after the load)".to_owned(),
        measured: format!(
            "{:.1} MiB; {:.1} MiB",
            results.idle_rss_start_mib, results.idle_rss_end_mib
        ),
        ceiling: "40 MiB".to_owned(),
        ratio: Some(idle / 40.0),
        goal: Goal::AtMost(1.0),
        note: None,
    });
    out.push_str("### Targets (ratios to ceilings measured in this run)\n\n");
    out.push_str("| target | measured | ceiling / reference | ratio | goal | result |\n|---|--:|--:|--:|--:|---|\n");
    for row in &rows {
        let (ratio, verdict) = match (row.note, row.ratio) {
            (Some(note), _) => ("–".to_owned(), note.to_owned()),
            (None, Some(ratio)) => (format!("{ratio:.2}"), row.goal.verdict(ratio).to_owned()),
            (None, None) => ("–".to_owned(), "no data".to_owned()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio} | {} | {verdict} |",
            row.target,
            row.measured,
            row.ceiling,
            row.goal.text()
        );
    }
    let _ = writeln!(
        out,
        "\nThroughput targets compare the best level of the scenario with the best level \
         of its ceiling. Peak server RSS (VmHWM) over the whole run: {:.1} MiB.\n",
        results.peak_rss_mib
    );

    out.push_str("### Scenarios\n\n");
    let scenario_cells: Vec<&Cell> = results.scenarios.iter().collect();
    cell_table(&mut out, &scenario_cells);
    if !results.verify_available {
        out.push_str("\n`verify`: the server answered 404 — not available on this build.\n");
    }

    out.push_str("\n### Ceilings\n\nHTTP: the same `GET /v1/auth/me` request to a minimal actix-web handler (`tessera-loadgen ceiling-server`, default worker count like `tessera serve`).\n\n");
    let ceiling_cells: Vec<&Cell> = results.http_ceiling.iter().collect();
    cell_table(&mut out, &ceiling_cells);
    out.push_str("\nDatabase: one refresh's statements (lookup; `BEGIN`, compare-and-swap on `used_at IS NULL`, successor insert, session slide, `COMMIT`; audit insert) replayed by pgbench with prepared statements (`target/bench/rotation.sql`).\n\n| connections | tx/s | average ms | failed |\n|--:|--:|--:|--:|\n");
    for run in &results.db_ceiling {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {} |",
            run.clients,
            rate(run.transactions_per_second),
            run.latency_average_ms,
            run.failed
        );
    }
    let argon2 = &results.argon2;
    let _ = writeln!(
        out,
        "\nArgon2id (m={}, t={}, p={}), raw hashes on 1 to {} threads: {}; the ceiling is the best.\n",
        argon2.memory_kib,
        argon2.iterations,
        argon2.parallelism,
        argon2.by_threads.len(),
        argon2
            .by_threads
            .iter()
            .map(|(threads, rate_per_second)| format!(
                "{} hashes/s with {threads}",
                rate(*rate_per_second)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );

    out.push_str("### Login flood\n\n");
    cell_table(&mut out, &[&flood.alone, &flood.me, &flood.login]);
    out.push_str("\nFirst row: `me` alone; then `me` and `login` at the same time.\n\n");

    let _ = writeln!(
        out,
        "### Large table\n\n`refresh` with {} sessions, then after inserting {} more \
         (with one refresh token each; {:.0} s including `ANALYZE` and `CHECKPOINT`).\n",
        thousands(bulk.sessions_before as f64),
        thousands((bulk.sessions_after.saturating_sub(bulk.sessions_before)) as f64),
        bulk.insert_seconds
    );
    cell_table(&mut out, &[&bulk.before, &bulk.after]);
    out
}
