//! Registration and operator-created users.

use tessera_domain::{Role, User};

use super::support::{
    Mocks, USER_ID, client, email, new_password_hash, now, password, role, unavailable,
};
use crate::{AuthEventKind, Error, ServiceOptions};

fn closed() -> ServiceOptions {
    ServiceOptions {
        registration_open: false,
        ..ServiceOptions::default()
    }
}

/// The password is hashed once and the new user is stored once, with `roles`.
fn expect_user_stored(mocks: &mut Mocks, roles: Vec<Role>) {
    mocks
        .passwords
        .expect_hash()
        .withf(|given| given.expose() == password().expose())
        .times(1)
        .returning(|_| Ok(new_password_hash()));
    mocks
        .users
        .expect_insert()
        .withf(move |user: &User| {
            *user
                == User {
                    id: USER_ID,
                    email: email(),
                    password_hash: new_password_hash(),
                    roles: roles.clone(),
                    created_at: now(),
                    disabled_at: None,
                }
        })
        .times(1)
        .returning(|_| Ok(()));
}

#[tokio::test]
async fn open_registration_stores_a_user_with_the_hashed_password_and_the_user_role() {
    let mut mocks = Mocks::new();
    expect_user_stored(&mut mocks, vec![Role::user()]);
    let (service, audit) = mocks.build();

    let user = service
        .register(email(), password(), &client())
        .await
        .unwrap();

    assert_eq!(user.id, USER_ID);
    assert_eq!(user.roles, vec![Role::user()]);
    assert_eq!(user.password_hash, new_password_hash());
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::Registered);
    assert_eq!(event.user_id, Some(USER_ID));
    assert_eq!(event.session_id, None);
    assert_eq!(event.client, client());
    assert_eq!(event.at, now());
}

#[tokio::test]
async fn closed_registration_is_refused_and_nothing_is_hashed_or_stored() {
    let mut mocks = Mocks::new();
    mocks.options = closed();
    mocks.passwords.expect_hash().never();
    mocks.users.expect_insert().never();
    let (service, audit) = mocks.build();

    let result = service.register(email(), password(), &client()).await;

    assert!(
        matches!(result, Err(Error::RegistrationClosed)),
        "{result:?}"
    );
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_taken_email_is_a_conflict_and_no_registration_is_audited() {
    let mut mocks = Mocks::new();
    mocks
        .passwords
        .expect_hash()
        .returning(|_| Ok(new_password_hash()));
    mocks
        .users
        .expect_insert()
        .times(1)
        .returning(|_| Err(Error::Conflict("user")));
    let (service, audit) = mocks.build();

    let result = service.register(email(), password(), &client()).await;

    assert!(matches!(result, Err(Error::Conflict("user"))), "{result:?}");
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_saturated_hashing_pool_fails_registration_before_anything_is_stored() {
    let mut mocks = Mocks::new();
    mocks
        .passwords
        .expect_hash()
        .times(1)
        .returning(|_| Err(unavailable()));
    mocks.users.expect_insert().never();
    let (service, audit) = mocks.build();

    let result = service.register(email(), password(), &client()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn create_user_works_while_registration_is_closed_and_keeps_the_given_roles() {
    let roles = vec![role("admin"), Role::user()];
    let mut mocks = Mocks::new();
    mocks.options = closed();
    expect_user_stored(&mut mocks, roles.clone());
    let (service, audit) = mocks.build();

    let user = service
        .create_user(email(), password(), roles.clone(), &client())
        .await
        .unwrap();

    assert_eq!(user.roles, roles);
    assert_eq!(audit.kinds(), vec![AuthEventKind::Registered]);
}

#[tokio::test]
async fn an_audit_sink_failure_does_not_undo_a_registration() {
    let mut mocks = Mocks::new();
    mocks.audit_fails = true;
    expect_user_stored(&mut mocks, vec![Role::user()]);
    let (service, audit) = mocks.build();

    let result = service.register(email(), password(), &client()).await;

    assert_eq!(result.unwrap().id, USER_ID);
    assert_eq!(audit.kinds(), vec![AuthEventKind::Registered]);
}

#[test]
fn registration_is_open_by_default() {
    assert!(ServiceOptions::default().registration_open);
}
