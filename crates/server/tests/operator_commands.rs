//! The operator subcommands through the built `tessera` binary on a SQLite file:
//! what they print, what they change, and their exit codes (1 for a failed operation,
//! 2 for bad input).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use tessera_application::{AuthService, Error};
use tessera_domain::{ClientContext, EmailAddress, Password, RefreshRefusal};
use tessera_infra_diesel::testing::TestDatabase;
use tessera_server::{Components, Sources};

const PEPPER: &str = "a pepper for the operator command tests";
const PASSWORD: &str = "correct horse battery staple";

/// `tessera <args>` on `database_url`, with `stdin` as its input.
fn tessera(database_url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("TESSERA_DATABASE_URL", database_url)
        .env("TESSERA_TOKEN_PEPPER", PEPPER)
        .env("RUST_LOG", "warn")
        .env_remove("TESSERA_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tessera binary starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Succeeded, or fails the test showing what the command said.
#[track_caller]
fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
}

/// The service the HTTP API would use, on the same database: logs in the way a client
/// would, to see what the commands did.
async fn service(database_url: &str) -> AuthService {
    let pairs = [
        ("TESSERA_DATABASE_URL", database_url),
        ("TESSERA_TOKEN_PEPPER", PEPPER),
    ]
    .map(|(key, value)| (key.to_owned(), value.to_owned()));
    let settings = Sources::load(None, pairs)
        .and_then(|sources| sources.settings())
        .unwrap();
    Components::build(&settings).await.unwrap().service
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_ends_sessions_refuses_login_shows_in_the_audit_and_enable_undoes_it() {
    let database = TestDatabase::sqlite();
    let url = database.url.as_str();
    let email = EmailAddress::parse("ada@example.com").unwrap();
    let password = Password::new(PASSWORD).unwrap();
    let client = ClientContext::default();

    let created = tessera(
        url,
        &["user", "create", "--email", "Ada@Example.com"],
        &format!("{PASSWORD}\n"),
    );
    assert_success(&created);
    assert!(
        stdout(&created).starts_with("created user "),
        "{}",
        stdout(&created)
    );

    let service = service(url).await;
    let grant = service.login(&email, &password, &client).await.unwrap();

    let disabled = tessera(url, &["user", "disable", "ada@example.com"], "");
    assert_success(&disabled);
    let said = stdout(&disabled);
    assert!(said.starts_with("disabled user "), "{said}");
    assert!(said.contains("ended 1 active session(s)"), "{said}");

    let refused = service
        .refresh(grant.refresh_token.expose(), &client)
        .await
        .unwrap_err();
    // SPEC §2 checks a revoked session (rule 2) before a disabled user (rule 5), and
    // disabling revokes every session: either refusal means "no more refresh".
    assert!(
        matches!(
            refused,
            Error::Refused(RefreshRefusal::SessionRevoked | RefreshRefusal::UserDisabled)
        ),
        "refresh after disable: {refused:?}"
    );
    let refused = service.login(&email, &password, &client).await.unwrap_err();
    assert!(
        matches!(refused, Error::Refused(RefreshRefusal::UserDisabled)),
        "login after disable: {refused:?}"
    );

    let audit = tessera(
        url,
        &["audit", "--user", "ada@example.com", "--since", "1h"],
        "",
    );
    assert_success(&audit);
    let lines: Vec<Vec<String>> = stdout(&audit)
        .lines()
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect();
    assert!(
        lines.iter().all(|columns| columns.len() == 7),
        "seven columns: {lines:?}"
    );
    let kinds: Vec<&str> = lines.iter().map(|columns| columns[1].as_str()).collect();
    assert!(kinds.contains(&"user_disabled"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"registered"), "newest first: {kinds:?}");
    let times: Vec<&str> = lines.iter().map(|columns| columns[0].as_str()).collect();
    assert!(
        times.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first: {times:?}"
    );
    let disabled_line = &lines[kinds
        .iter()
        .position(|kind| *kind == "user_disabled")
        .unwrap()];
    assert_eq!(disabled_line[2], grant.user_id.to_string(), "the user's id");
    assert_eq!(disabled_line[3], "-", "no session of its own");

    let limited = tessera(url, &["audit", "--limit", "1"], "");
    assert_success(&limited);
    assert_eq!(stdout(&limited).lines().count(), 1);

    let enabled = tessera(url, &["user", "enable", "ada@example.com"], "");
    assert_success(&enabled);
    assert!(
        stdout(&enabled).starts_with("enabled user "),
        "{}",
        stdout(&enabled)
    );
    service
        .login(&email, &password, &client)
        .await
        .expect("an enabled user logs in again");
}

#[test]
fn sessions_purge_prints_what_it_deleted() {
    let database = TestDatabase::sqlite();
    let purged = tessera(&database.url, &["sessions", "purge"], "");
    assert_success(&purged);
    assert_eq!(
        stdout(&purged).trim(),
        "purged 0 ended session(s) and 0 audit event(s) (audit_retention 90d)"
    );
}

#[test]
fn an_unknown_user_is_a_failure_with_exit_code_1() {
    let database = TestDatabase::sqlite();
    for args in [
        &["user", "disable", "ghost@example.com"][..],
        &["user", "enable", "ghost@example.com"][..],
        &["audit", "--user", "ghost@example.com"][..],
    ] {
        let output = tessera(&database.url, args, "");
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("no user has the e-mail ghost@example.com"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn bad_input_is_refused_with_exit_code_2_naming_the_problem() {
    let database = TestDatabase::sqlite();
    let cases: [(&[&str], &str); 4] = [
        (&["audit", "--since", "yesterday"], "--since"),
        (&["audit", "--limit", "none"], "--limit"),
        (
            &["user", "disable", "not-an-address"],
            "must be an e-mail address",
        ),
        (&["audit", "--user", "nobody"], "must be an e-mail address"),
    ];
    for (args, named) in cases {
        let output = tessera(&database.url, args, "");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(named),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["sessions", "purge"])
        .env("TESSERA_DATABASE_URL", &database.url)
        .env("TESSERA_AUDIT_RETENTION", "0s")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("audit_retention must be longer than zero"),
        "{}",
        stderr(&output)
    );
}
