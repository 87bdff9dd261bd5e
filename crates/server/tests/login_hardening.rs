//! Login hardening (issue 8, item 2) with the real adapters: a password hash made with
//! older, weaker Argon2 parameters is replaced by one with the current parameters at
//! the next successful login, and the password keeps working. (The use case's side is
//! in the application's tests; the HTTP side in `tests/http/login_hardening.rs`.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use tessera_application::ports::{PasswordHasher as _, UserRepository as _};
use tessera_domain::{ClientContext, EmailAddress, Password};
use tessera_infra_crypto::{Argon2Params, Argon2PasswordHasher, PasswordHashingSettings};
use tessera_infra_diesel::DieselUserRepository;
use tessera_infra_diesel::testing::TestDatabase;
use tessera_server::{Components, Sources};

const CURRENT: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

async fn an_outdated_hash_is_upgraded_at_the_next_successful_login(database_url: &str) {
    let environment = [
        ("TESSERA_DATABASE_URL", database_url),
        (
            "TESSERA_TOKEN_PEPPER",
            "a pepper for the rehash test, 32+ chars",
        ),
    ]
    .map(|(key, value)| (key.to_owned(), value.to_owned()));
    let settings = Sources::load(None, environment)
        .unwrap()
        .settings()
        .unwrap();
    let components = Components::build(&settings).await.unwrap();
    let (service, users) = (
        &components.service,
        DieselUserRepository::new(components.database.clone()),
    );
    let client = ClientContext::default();
    let email = EmailAddress::parse("rehash@example.com").unwrap();
    let password = Password::new("correct horse battery staple").unwrap();
    let user = service
        .register(email.clone(), password.clone(), &client)
        .await
        .unwrap();
    assert!(user.password_hash.as_str().starts_with(CURRENT));

    // The hash an older release (weaker parameters) would have stored.
    let older = Argon2PasswordHasher::new(PasswordHashingSettings {
        params: Argon2Params {
            memory_kib: 8192,
            iterations: 1,
            parallelism: 1,
        },
        ..PasswordHashingSettings::default()
    })
    .unwrap();
    let weak = older.hash(&password).await.unwrap();
    assert!(weak.as_str().starts_with("$argon2id$v=19$m=8192,t=1,p=1$"));
    users.update_password_hash(user.id, &weak).await.unwrap();

    // A wrong password changes nothing.
    let wrong = Password::new("not the password").unwrap();
    assert!(service.login(&email, &wrong, &client).await.is_err());
    let stored = users.find_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash, weak);

    service.login(&email, &password, &client).await.unwrap();
    let stored = users.find_by_id(user.id).await.unwrap().unwrap();
    assert!(
        stored.password_hash.as_str().starts_with(CURRENT),
        "upgraded to the current parameters: {:?}",
        stored.password_hash.as_str().get(..32)
    );
    // The upgraded hash verifies the same password; the next login keeps it.
    service.login(&email, &password, &client).await.unwrap();
    let again = users.find_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(again.password_hash, stored.password_hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_outdated_hash_is_upgraded_at_the_next_successful_login() {
    let db = TestDatabase::sqlite();
    an_outdated_hash_is_upgraded_at_the_next_successful_login(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_outdated_hash_is_upgraded_at_the_next_successful_login() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    an_outdated_hash_is_upgraded_at_the_next_successful_login(&db.url).await;
}
