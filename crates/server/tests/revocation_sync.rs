//! Two nodes on one database, each with its own in-memory revocation list: a
//! revocation stored by one (or by the operator's `tessera user disable`) reaches the
//! other's list through `sync_revocations`, which `serve` runs every
//! `revocation_sync_interval`. Authentication reads only the list, so before the sync
//! the other node still accepts the access token — which is what the sync is for.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use tessera_application::{AccessDenial, Actor, Error};
use tessera_domain::{ClientContext, EmailAddress, Password, TimeDelta};
use tessera_infra_diesel::testing::TestDatabase;
use tessera_server::{Components, Sources};

async fn node(database_url: &str) -> Components {
    let environment = [
        ("TESSERA_DATABASE_URL", database_url),
        (
            "TESSERA_TOKEN_PEPPER",
            "a pepper both nodes share, 32+ characters",
        ),
    ]
    .map(|(key, value)| (key.to_owned(), value.to_owned()));
    let settings = Sources::load(None, environment)
        .unwrap()
        .settings()
        .unwrap();
    Components::build(&settings).await.unwrap()
}

async fn a_revocation_stored_by_one_node_reaches_the_other_at_its_next_sync(database_url: &str) {
    let (node_a, node_b) = (node(database_url).await, node(database_url).await);
    let client = ClientContext::default();
    let email = EmailAddress::parse("two-nodes@example.com").unwrap();
    let password = Password::new("correct horse battery staple").unwrap();
    let user = node_a
        .service
        .register(email.clone(), password.clone(), &client)
        .await
        .unwrap();
    let grant = node_a
        .service
        .login(&email, &password, &client)
        .await
        .unwrap();
    let token = grant.access_token.expose();

    node_b
        .service
        .set_user_disabled(Actor::Operator, user.id, true, &client)
        .await
        .unwrap();

    // Node A's list has not heard of it yet: no database read per request.
    assert!(node_a.service.authenticate(token, &client).await.is_ok());
    let synced = node_a
        .service
        .sync_revocations(TimeDelta::seconds(10))
        .await
        .unwrap();
    assert_eq!(synced, 1);
    assert!(matches!(
        node_a.service.authenticate(token, &client).await,
        Err(Error::Unauthorized(AccessDenial::SessionRevoked))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_revocation_stored_by_one_node_reaches_the_other_at_its_next_sync() {
    let db = TestDatabase::sqlite();
    a_revocation_stored_by_one_node_reaches_the_other_at_its_next_sync(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_revocation_stored_by_one_node_reaches_the_other_at_its_next_sync() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    a_revocation_stored_by_one_node_reaches_the_other_at_its_next_sync(&db.url).await;
}
