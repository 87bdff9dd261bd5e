//! Housekeeping: purging what can no longer matter, and reading the audit trail.

use tessera_domain::{TimeDelta, User};

use super::support::{
    Mocks, SESSION_ID, USER_ID, alice, days, email, minutes, now, policy_with, unavailable,
};
use crate::{AuditQuery, AuditRecord, Error, PurgeReport, ServiceOptions};

fn user_with_email(mocks: &mut Mocks, user: Option<User>) {
    mocks
        .users
        .expect_find_by_email()
        .withf(|given| *given == email())
        .times(1)
        .return_once(move |_| Ok(user));
}

fn logout_record() -> AuditRecord {
    AuditRecord {
        at: now() - minutes(3),
        kind: "logout".to_owned(),
        user_id: Some(USER_ID),
        session_id: Some(SESSION_ID),
        ip: Some("192.0.2.10".to_owned()),
        user_agent: None,
        code: None,
        actor: None,
    }
}

// ---------------------------------------------------------------------------------
// purge
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn purge_keeps_sessions_whose_access_tokens_may_live_and_audit_events_for_90_days() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_purge()
        .withf(|ended_before, sealed_before| {
            *ended_before == now() - minutes(15) - TimeDelta::seconds(30)
                && *sealed_before == now() - TimeDelta::seconds(10)
        })
        .times(1)
        .returning(|_, _| Ok(3));
    mocks
        .audit
        .expect_purge_before()
        .withf(|cutoff| *cutoff == now() - days(90))
        .times(1)
        .returning(|_| Ok(42));
    let (service, audit) = mocks.build();

    let report = service.purge().await.unwrap();

    assert_eq!(
        report,
        PurgeReport {
            sessions: 3,
            audit_events: 42,
        }
    );
    assert!(audit.events().is_empty(), "a purge writes no audit event");
}

#[tokio::test]
async fn purge_cutoffs_follow_the_configured_lifetimes_leeway_and_retention() {
    let mut mocks = Mocks::new();
    mocks.policy = policy_with(|settings| {
        settings.access_ttl = minutes(5);
        settings.reuse_grace = TimeDelta::seconds(20);
    });
    mocks.options = ServiceOptions {
        clock_leeway: minutes(2),
        audit_retention: days(7),
        ..ServiceOptions::default()
    };
    mocks
        .sessions
        .expect_purge()
        .withf(|ended_before, sealed_before| {
            *ended_before == now() - minutes(7) && *sealed_before == now() - TimeDelta::seconds(20)
        })
        .times(1)
        .returning(|_, _| Ok(0));
    mocks
        .audit
        .expect_purge_before()
        .withf(|cutoff| *cutoff == now() - days(7))
        .times(1)
        .returning(|_| Ok(0));
    let (service, _audit) = mocks.build();

    assert_eq!(service.purge().await.unwrap(), PurgeReport::default());
}

#[tokio::test]
async fn a_session_store_failure_fails_the_purge_before_the_audit_trail_is_touched() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_purge()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    mocks.audit.expect_purge_before().never();
    let (service, _audit) = mocks.build();

    let result = service.purge().await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

#[tokio::test]
async fn an_audit_store_failure_fails_the_purge() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_purge()
        .times(1)
        .returning(|_, _| Ok(3));
    mocks
        .audit
        .expect_purge_before()
        .times(1)
        .returning(|_| Err(unavailable()));
    let (service, _audit) = mocks.build();

    let result = service.purge().await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------
// audit_trail
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_audit_trail_of_a_user_is_read_by_their_email() {
    let since = now() - days(1);
    let mut mocks = Mocks::new();
    user_with_email(&mut mocks, Some(alice()));
    mocks
        .audit
        .expect_events()
        .withf(move |query| {
            *query
                == AuditQuery {
                    user_id: Some(USER_ID),
                    since,
                    limit: 50,
                }
        })
        .times(1)
        .returning(|_| Ok(vec![logout_record()]));
    let (service, _audit) = mocks.build();

    let records = service
        .audit_trail(Some(&email()), since, 50)
        .await
        .unwrap();

    assert_eq!(records, vec![logout_record()]);
}

#[tokio::test]
async fn the_whole_audit_trail_is_read_without_an_email() {
    let since = now() - days(30);
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_email().never();
    mocks
        .audit
        .expect_events()
        .withf(move |query| {
            *query
                == AuditQuery {
                    user_id: None,
                    since,
                    limit: 1000,
                }
        })
        .times(1)
        .returning(|_| Ok(vec![logout_record()]));
    let (service, _audit) = mocks.build();

    let records = service.audit_trail(None, since, 1000).await.unwrap();

    assert_eq!(records, vec![logout_record()]);
}

#[tokio::test]
async fn the_audit_trail_of_an_unknown_email_is_not_found_and_not_read() {
    let mut mocks = Mocks::new();
    user_with_email(&mut mocks, None);
    mocks.audit.expect_events().never();
    let (service, _audit) = mocks.build();

    let result = service
        .audit_trail(Some(&email()), now() - days(1), 50)
        .await;

    assert!(matches!(result, Err(Error::NotFound("user"))), "{result:?}");
}

#[tokio::test]
async fn an_audit_store_failure_fails_reading_the_trail() {
    let mut mocks = Mocks::new();
    mocks
        .audit
        .expect_events()
        .times(1)
        .returning(|_| Err(unavailable()));
    let (service, _audit) = mocks.build();

    let result = service.audit_trail(None, now() - days(1), 50).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}
