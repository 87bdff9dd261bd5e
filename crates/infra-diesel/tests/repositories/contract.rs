//! The repository contract, written once; `main.rs` runs every case on SQLite and on
//! PostgreSQL.

use std::sync::Arc;

use tessera_application::Error;
use tessera_application::ports::{
    AuditSink, HealthCheck, RotationOutcome, SessionRepository, SigningKeyRepository,
    UserRepository,
};
use tessera_application::{AuditQuery, AuditRecord, AuthEventKind};
use tessera_domain::{
    ClientContext, Instant, PasswordHash, RefreshToken, RevocationReason, Session, User,
};
use tessera_infra_diesel::{
    Database, DieselAuditSink, DieselServerSecrets, DieselSessionRepository,
    DieselSigningKeyRepository, DieselUserRepository,
};
use tokio::sync::Barrier;

use crate::fixtures::*;

struct Repositories {
    users: DieselUserRepository,
    sessions: DieselSessionRepository,
    keys: DieselSigningKeyRepository,
    audit: DieselAuditSink,
}

fn repositories(database: &Database) -> Repositories {
    Repositories {
        users: DieselUserRepository::new(database.clone()),
        sessions: DieselSessionRepository::new(database.clone()),
        keys: DieselSigningKeyRepository::new(database.clone()),
        audit: DieselAuditSink::new(database.clone()),
    }
}

/// A stored user with a stored session and its first token.
async fn logged_in(repos: &Repositories) -> (User, Session, RefreshToken) {
    let user = user(&unique_email());
    repos.users.insert(&user).await.unwrap();
    let session = session(&user, at(0));
    let token = first_token(&session);
    repos
        .sessions
        .create(&session, &token, &hash())
        .await
        .unwrap();
    (user, session, token)
}

pub async fn users_are_found_by_email_and_id_and_emails_are_unique(database: &Database) {
    let repos = repositories(database);
    let alice = user("alice@example.com");
    repos.users.insert(&alice).await.unwrap();

    let by_email = repos.users.find_by_email(&alice.email).await.unwrap();
    assert_eq!(by_email.as_ref().map(|user| user.id), Some(alice.id));
    let by_id = repos.users.find_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(by_id.email, alice.email);
    assert_eq!(by_id.roles, alice.roles);
    assert_eq!(by_id.password_hash, alice.password_hash);
    assert_eq!(by_id.disabled_at, None);

    let twin = user("alice@example.com");
    let error = repos.users.insert(&twin).await.unwrap_err();
    assert!(matches!(error, Error::Conflict("user")), "{error:?}");

    let nobody = user("nobody@example.com");
    assert!(
        repos
            .users
            .find_by_email(&nobody.email)
            .await
            .unwrap()
            .is_none()
    );
    assert!(repos.users.find_by_id(nobody.id).await.unwrap().is_none());
}

pub async fn a_password_hash_is_replaced_and_a_missing_user_is_not_found(database: &Database) {
    let repos = repositories(database);
    let bob = user(&unique_email());
    repos.users.insert(&bob).await.unwrap();
    let new_hash = PasswordHash::new("$argon2id$v=19$m=65536,t=3,p=1$bmV3$bmV3".into());

    repos
        .users
        .update_password_hash(bob.id, &new_hash)
        .await
        .unwrap();
    let stored = repos.users.find_by_id(bob.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash, new_hash);

    let error = repos
        .users
        .update_password_hash(user("x@example.com").id, &new_hash)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotFound("user")), "{error:?}");
}

pub async fn a_user_is_disabled_and_enabled_again_and_a_missing_user_is_not_found(
    database: &Database,
) {
    let repos = repositories(database);
    let carol = user(&unique_email());
    let bystander = user(&unique_email());
    repos.users.insert(&carol).await.unwrap();
    repos.users.insert(&bystander).await.unwrap();

    repos
        .users
        .set_disabled(carol.id, Some(at(5)))
        .await
        .unwrap();
    let stored = repos.users.find_by_id(carol.id).await.unwrap().unwrap();
    assert_eq!(stored.disabled_at, Some(micros(at(5))));
    // Writing the value it already has still finds the user (no false NotFound).
    repos
        .users
        .set_disabled(carol.id, Some(at(5)))
        .await
        .unwrap();
    // A later write replaces the instant: deciding whether to is the caller's part.
    repos
        .users
        .set_disabled(carol.id, Some(at(9)))
        .await
        .unwrap();
    let stored = repos.users.find_by_id(carol.id).await.unwrap().unwrap();
    assert_eq!(stored.disabled_at, Some(micros(at(9))));

    repos.users.set_disabled(carol.id, None).await.unwrap();
    let stored = repos.users.find_by_id(carol.id).await.unwrap().unwrap();
    assert_eq!(stored.disabled_at, None);
    // Re-enabling an enabled user is not an error either.
    repos.users.set_disabled(carol.id, None).await.unwrap();

    let untouched = repos.users.find_by_id(bystander.id).await.unwrap().unwrap();
    assert_eq!(untouched.disabled_at, None);

    let nobody = user("y@example.com").id;
    for disabled_at in [Some(at(5)), None] {
        let error = repos.users.set_disabled(nobody, disabled_at).await;
        assert!(matches!(error, Err(Error::NotFound("user"))), "{error:?}");
    }
    assert!(repos.users.find_by_id(nobody).await.unwrap().is_none());
}

pub async fn a_created_session_is_found_as_written(database: &Database) {
    let repos = repositories(database);
    let (_, session, _) = logged_in(&repos).await;

    let stored = repos
        .sessions
        .find_session(session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, session.id);
    assert_eq!(stored.user_id, session.user_id);
    assert_eq!(stored.created_at, micros(session.created_at));
    assert_eq!(
        stored.absolute_expires_at,
        micros(session.absolute_expires_at)
    );
    assert_eq!(stored.last_refreshed_at, micros(session.last_refreshed_at));
    assert_eq!(stored.revoked_at, None);
    assert_eq!(stored.revocation_reason, None);
    assert_eq!(stored.client, session.client);

    let missing = session_of_nobody();
    assert!(
        repos
            .sessions
            .find_session(missing.id)
            .await
            .unwrap()
            .is_none()
    );

    // The joined read of `me`: the same session, with its user.
    let (joined, owner) = repos
        .sessions
        .find_session_with_user(session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(joined, stored);
    let owner = owner.unwrap();
    assert_eq!(owner.id, session.user_id);
    assert_eq!(
        Some(owner),
        repos.users.find_by_id(session.user_id).await.unwrap()
    );
    assert!(
        repos
            .sessions
            .find_session_with_user(missing.id)
            .await
            .unwrap()
            .is_none()
    );
}

fn session_of_nobody() -> Session {
    session(&user("ghost@example.com"), at(0))
}

pub async fn a_refresh_token_is_read_with_its_session_and_user(database: &Database) {
    let repos = repositories(database);
    let user = user(&unique_email());
    repos.users.insert(&user).await.unwrap();
    let session = session(&user, at(0));
    let token = first_token(&session);
    let token_hash = hash();
    repos
        .sessions
        .create(&session, &token, &token_hash)
        .await
        .unwrap();

    let record = repos
        .sessions
        .find_refresh_token(token.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.token.id, token.id);
    assert_eq!(record.token.session_id, session.id);
    assert_eq!(record.token.generation, 1);
    assert_eq!(record.token.issued_at, micros(token.issued_at));
    assert_eq!(record.token.used_at, None);
    assert_eq!(record.hash, token_hash);
    assert!(record.sealed_successor.is_none());
    assert_eq!(record.session.id, session.id);
    assert_eq!(record.user.map(|stored| stored.id), Some(user.id));

    assert!(
        repos
            .sessions
            .find_refresh_token(token_id())
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_session_of_an_unknown_user_is_refused(database: &Database) {
    let repos = repositories(database);
    // Foreign keys are on for SQLite too.
    let session = session_of_nobody();
    let error = repos
        .sessions
        .create(&session, &first_token(&session), &hash())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unexpected(_)), "{error:?}");
    assert!(
        repos
            .sessions
            .find_session(session.id)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn rotation_spends_the_parent_and_stores_the_successor(database: &Database) {
    let repos = repositories(database);
    let (_, session, parent) = logged_in(&repos).await;
    let rotation = rotation(&parent, at(60));
    let sealed = rotation.sealed_successor.clone();
    let successor = rotation.successor.clone();
    let successor_hash = rotation.successor_hash.clone();

    let outcome = repos.sessions.rotate(rotation).await.unwrap();
    assert_eq!(outcome, RotationOutcome::Rotated);

    let parent_record = repos
        .sessions
        .find_refresh_token(parent.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parent_record.token.used_at, Some(micros(at(60))));
    assert_eq!(parent_record.sealed_successor, Some(sealed));
    assert_eq!(parent_record.session.last_refreshed_at, micros(at(60)));

    let successor_record = repos
        .sessions
        .find_refresh_token(successor.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(successor_record.token.generation, 2);
    assert_eq!(successor_record.token.session_id, session.id);
    assert_eq!(successor_record.token.issued_at, micros(at(60)));
    assert_eq!(successor_record.token.used_at, None);
    assert_eq!(successor_record.hash, successor_hash);

    // The chain goes on from the successor.
    let next = self::rotation(&successor_record.token, at(120));
    assert_eq!(
        repos.sessions.rotate(next).await.unwrap(),
        RotationOutcome::Rotated
    );
}

pub async fn rotating_a_used_parent_is_lost_and_writes_nothing(database: &Database) {
    let repos = repositories(database);
    let (_, session, parent) = logged_in(&repos).await;
    let first = rotation(&parent, at(60));
    let first_sealed = first.sealed_successor.clone();
    assert_eq!(
        repos.sessions.rotate(first).await.unwrap(),
        RotationOutcome::Rotated
    );

    let second = rotation(&parent, at(70));
    let second_successor = second.successor.id;
    assert_eq!(
        repos.sessions.rotate(second).await.unwrap(),
        RotationOutcome::Lost
    );

    let parent_record = repos
        .sessions
        .find_refresh_token(parent.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parent_record.token.used_at, Some(micros(at(60))));
    assert_eq!(parent_record.sealed_successor, Some(first_sealed));
    assert!(
        repos
            .sessions
            .find_refresh_token(second_successor)
            .await
            .unwrap()
            .is_none()
    );
    let stored = repos
        .sessions
        .find_session(session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.last_refreshed_at, micros(at(60)));
}

pub async fn rotating_in_a_revoked_session_is_lost(database: &Database) {
    let repos = repositories(database);
    let (_, session, parent) = logged_in(&repos).await;
    assert!(
        repos
            .sessions
            .revoke(session.id, RevocationReason::Logout, at(30))
            .await
            .unwrap()
    );

    let rotation = rotation(&parent, at(60));
    let successor = rotation.successor.id;
    assert_eq!(
        repos.sessions.rotate(rotation).await.unwrap(),
        RotationOutcome::Lost
    );

    let parent_record = repos
        .sessions
        .find_refresh_token(parent.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parent_record.token.used_at, None);
    assert!(parent_record.sealed_successor.is_none());
    assert_eq!(parent_record.session.last_refreshed_at, micros(at(0)));
    assert!(
        repos
            .sessions
            .find_refresh_token(successor)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn rotating_at_or_past_the_absolute_end_is_lost(database: &Database) {
    let repos = repositories(database);
    let (_, session, parent) = logged_in(&repos).await;

    for now in [
        session.absolute_expires_at,
        session.absolute_expires_at + chrono::TimeDelta::seconds(1),
    ] {
        let rotation = rotation(&parent, now);
        let successor = rotation.successor.id;
        assert_eq!(
            repos.sessions.rotate(rotation).await.unwrap(),
            RotationOutcome::Lost
        );
        assert!(
            repos
                .sessions
                .find_refresh_token(successor)
                .await
                .unwrap()
                .is_none()
        );
    }
    let parent_record = repos
        .sessions
        .find_refresh_token(parent.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parent_record.token.used_at, None);

    // One microsecond before the end the session is still live.
    let just_before = session.absolute_expires_at - chrono::TimeDelta::microseconds(1);
    let rotation = rotation(&parent, just_before);
    assert_eq!(
        repos.sessions.rotate(rotation).await.unwrap(),
        RotationOutcome::Rotated
    );
}

pub async fn revoking_twice_keeps_the_first_reason(database: &Database) {
    let repos = repositories(database);
    let (_, session, _) = logged_in(&repos).await;

    assert!(
        repos
            .sessions
            .revoke(session.id, RevocationReason::Reuse, at(10))
            .await
            .unwrap()
    );
    assert!(
        !repos
            .sessions
            .revoke(session.id, RevocationReason::Logout, at(20))
            .await
            .unwrap()
    );

    let stored = repos
        .sessions
        .find_session(session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revoked_at, Some(micros(at(10))));
    assert_eq!(stored.revocation_reason, Some(RevocationReason::Reuse));
    assert!(
        !repos
            .sessions
            .revoke(session_of_nobody().id, RevocationReason::Admin, at(20))
            .await
            .unwrap()
    );
}

pub async fn a_users_active_sessions_are_listed_and_revoked_together(database: &Database) {
    let repos = repositories(database);
    let (user, first, _) = logged_in(&repos).await;
    let mut others = Vec::new();
    for offset in [10, 20] {
        let session = session(&user, at(offset));
        repos
            .sessions
            .create(&session, &first_token(&session), &hash())
            .await
            .unwrap();
        others.push(session);
    }
    repos
        .sessions
        .revoke(others[0].id, RevocationReason::Logout, at(30))
        .await
        .unwrap();

    let active = repos
        .sessions
        .list_active_for_user(user.id, at(40))
        .await
        .unwrap();
    let ids: Vec<_> = active.iter().map(|session| session.id).collect();
    assert_eq!(ids, vec![others[1].id, first.id]);

    let revoked = repos
        .sessions
        .revoke_all_for_user(
            user.id,
            Some(first.id),
            RevocationReason::PasswordChange,
            at(50),
        )
        .await
        .unwrap();
    assert_eq!(revoked, vec![others[1].id]);
    let revoked = repos
        .sessions
        .revoke_all_for_user(user.id, None, RevocationReason::LogoutAll, at(60))
        .await
        .unwrap();
    assert_eq!(revoked, vec![first.id]);
    assert!(
        repos
            .sessions
            .list_active_for_user(user.id, at(70))
            .await
            .unwrap()
            .is_empty()
    );
    let stored = repos
        .sessions
        .find_session(others[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.revocation_reason,
        Some(RevocationReason::PasswordChange)
    );
}

pub async fn sessions_revoked_since_an_instant_are_listed(database: &Database) {
    let repos = repositories(database);
    let (user, live, _) = logged_in(&repos).await;
    let mut revoked = Vec::new();
    for (offset, reason) in [
        (10, RevocationReason::Logout),
        (20, RevocationReason::Admin),
        (30, RevocationReason::Reuse),
    ] {
        let session = session(&user, at(offset - 5));
        repos
            .sessions
            .create(&session, &first_token(&session), &hash())
            .await
            .unwrap();
        assert!(
            repos
                .sessions
                .revoke(session.id, reason, at(offset))
                .await
                .unwrap()
        );
        revoked.push(session);
    }
    let ids = |sessions: &[Session]| {
        sessions
            .iter()
            .map(|session| session.id)
            .collect::<Vec<_>>()
    };

    // The bound is inclusive (at(20) carries nanoseconds: both sides are truncated
    // alike), the live session never appears, older revocations do not either.
    let since = repos.sessions.revoked_since(at(20)).await.unwrap();
    assert_eq!(ids(&since), vec![revoked[1].id, revoked[2].id]);
    assert!(!ids(&since).contains(&live.id));
    assert_eq!(since[0].revoked_at, Some(micros(at(20))));
    assert_eq!(since[0].revocation_reason, Some(RevocationReason::Admin));
    assert_eq!(since[1].revocation_reason, Some(RevocationReason::Reuse));
    assert_eq!(since[0].user_id, user.id);

    let just_after = at(20) + chrono::TimeDelta::microseconds(1);
    let since = repos.sessions.revoked_since(just_after).await.unwrap();
    assert_eq!(ids(&since), vec![revoked[2].id]);

    let since = repos.sessions.revoked_since(at(0)).await.unwrap();
    assert_eq!(
        ids(&since),
        revoked.iter().map(|session| session.id).collect::<Vec<_>>()
    );
    assert!(
        repos
            .sessions
            .revoked_since(at(31))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn purging_deletes_ended_sessions_and_stale_sealed_responses(database: &Database) {
    let repos = repositories(database);
    let (_, live, live_token) = logged_in(&repos).await;
    let (_, revoked, revoked_token) = logged_in(&repos).await;
    repos
        .sessions
        .revoke(revoked.id, RevocationReason::Logout, at(10))
        .await
        .unwrap();
    let rotation = rotation(&live_token, at(20));
    repos.sessions.rotate(rotation).await.unwrap();

    let deleted = repos.sessions.purge(at(100), at(100)).await.unwrap();
    assert_eq!(deleted, 1);
    assert!(
        repos
            .sessions
            .find_session(revoked.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        repos
            .sessions
            .find_refresh_token(revoked_token.id)
            .await
            .unwrap()
            .is_none()
    );
    let parent = repos
        .sessions
        .find_refresh_token(live_token.id)
        .await
        .unwrap()
        .unwrap();
    assert!(parent.sealed_successor.is_none());
    assert_eq!(parent.session.id, live.id);

    // Past its absolute end the live session goes too.
    let deleted = repos
        .sessions
        .purge(
            live.absolute_expires_at + chrono::TimeDelta::seconds(1),
            at(100),
        )
        .await
        .unwrap();
    assert_eq!(deleted, 1);
}

pub async fn signing_keys_are_listed_newest_first_and_kids_are_unique(database: &Database) {
    let repos = repositories(database);
    assert!(repos.keys.list().await.unwrap().is_empty());
    let old = signing_key("k-old", at(0));
    let new = signing_key("k-new", at(86_400));
    let middle = signing_key("k-middle", at(3_600));
    for key in [&old, &new, &middle] {
        repos.keys.insert(key).await.unwrap();
    }

    let listed = repos.keys.list().await.unwrap();
    let kids: Vec<&str> = listed.iter().map(|key| key.kid.as_str()).collect();
    assert_eq!(kids, ["k-new", "k-middle", "k-old"]);
    assert_eq!(listed[0].private_key, new.private_key);
    assert_eq!(listed[0].public_key, new.public_key);
    assert_eq!(listed[0].algorithm, new.algorithm);
    assert_eq!(listed[0].created_at, micros(new.created_at));

    let error = repos
        .keys
        .insert(&signing_key("k-old", at(5)))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Conflict("signing key")), "{error:?}");
}

pub async fn rotation_retires_every_other_key_once(database: &Database) {
    let repos = repositories(database);
    for (kid, created) in [("k-1", 0), ("k-2", 3_600)] {
        repos
            .keys
            .insert(&signing_key(kid, at(created)))
            .await
            .unwrap();
    }
    assert_eq!(
        repos
            .keys
            .retire_all_except("k-2", at(7_200))
            .await
            .unwrap(),
        1
    );
    repos
        .keys
        .insert(&signing_key("k-3", at(10_800)))
        .await
        .unwrap();
    assert_eq!(
        repos
            .keys
            .retire_all_except("k-3", at(10_800))
            .await
            .unwrap(),
        1
    );

    let listed = repos.keys.list().await.unwrap();
    let retired: Vec<(&str, Option<Instant>)> = listed
        .iter()
        .map(|key| (key.kid.as_str(), key.retired_at))
        .collect();
    // A key retired earlier keeps its time.
    assert_eq!(
        retired,
        [
            ("k-3", None),
            ("k-2", Some(micros(at(10_800)))),
            ("k-1", Some(micros(at(7_200)))),
        ]
    );
    assert_eq!(
        repos
            .keys
            .retire_all_except("k-3", at(20_000))
            .await
            .unwrap(),
        0
    );
}

pub async fn audit_events_are_recorded_and_purged_by_age(database: &Database) {
    let repos = repositories(database);
    let dave = user(&unique_email());
    repos
        .audit
        .record(&event(AuthEventKind::LoginFailed, None, at(0)))
        .await
        .unwrap();
    repos
        .audit
        .record(&event(AuthEventKind::LoginFailed, Some(&dave), at(0)))
        .await
        .unwrap();
    repos
        .audit
        .record(&event(AuthEventKind::Refreshed, Some(&dave), at(100)))
        .await
        .unwrap();

    // Through the port, as the housekeeping task holds it.
    let sink: &dyn AuditSink = &repos.audit;
    assert_eq!(sink.purge_before(at(50)).await.unwrap(), 2);
    assert_eq!(sink.purge_before(at(50)).await.unwrap(), 0);
    let left = sink.events(everything_since(at(-1))).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].kind, "refreshed");
    assert_eq!(left[0].at, micros(at(100)));
    // The cutoff is exclusive: an event exactly at it stays.
    assert_eq!(sink.purge_before(at(100)).await.unwrap(), 0);
    assert_eq!(sink.purge_before(at(101)).await.unwrap(), 1);
    assert!(
        sink.events(everything_since(at(-1)))
            .await
            .unwrap()
            .is_empty()
    );
}

fn everything_since(since: tessera_domain::Instant) -> AuditQuery {
    AuditQuery {
        user_id: None,
        since,
        limit: usize::MAX,
    }
}

pub async fn audit_events_are_read_back_newest_first_filtered_and_limited(database: &Database) {
    let repos = repositories(database);
    let dave = user(&unique_email());
    let erin = user(&unique_email());
    let admin = user(&unique_email());
    let erins_session = session(&erin, at(0));

    let mut disabled = event(AuthEventKind::UserDisabled, Some(&erin), at(20));
    disabled.session_id = Some(erins_session.id);
    disabled.client = ClientContext {
        ip: Some("2001:db8::1".parse().unwrap()),
        user_agent: Some("tessera-cli/1.0".into()),
    };
    disabled.code = Some("admin");
    disabled.actor = Some(admin.id);
    let mut anonymous = event(AuthEventKind::LoginFailed, None, at(0));
    anonymous.client = ClientContext::default();
    anonymous.code = None;
    // Inserted in this order; three share the instant at(20).
    let events = [
        anonymous,
        event(AuthEventKind::LoginSucceeded, Some(&dave), at(10)),
        event(AuthEventKind::Refreshed, Some(&dave), at(20)),
        disabled,
        event(AuthEventKind::Logout, Some(&dave), at(20)),
        event(AuthEventKind::LoginSucceeded, Some(&dave), at(30)),
    ];
    for event in &events {
        repos.audit.record(event).await.unwrap();
    }
    let kinds = |records: &[AuditRecord]| {
        records
            .iter()
            .map(|record| (record.kind.clone(), record.at))
            .collect::<Vec<_>>()
    };
    let expected = |indexes: &[usize]| {
        indexes
            .iter()
            .map(|&index| {
                (
                    events[index].kind.as_str().to_owned(),
                    micros(events[index].at),
                )
            })
            .collect::<Vec<_>>()
    };

    // Newest first; events of one instant latest-inserted first. `since` is inclusive
    // (at(10) carries nanoseconds, truncated alike on both sides).
    let all = repos.audit.events(everything_since(at(10))).await.unwrap();
    assert_eq!(kinds(&all), expected(&[5, 4, 3, 2, 1]));
    let after = at(10) + chrono::TimeDelta::microseconds(1);
    let all = repos.audit.events(everything_since(after)).await.unwrap();
    assert_eq!(kinds(&all), expected(&[5, 4, 3, 2]));

    // Every field round-trips, the actor too.
    let erins = repos
        .audit
        .events(AuditQuery {
            user_id: Some(erin.id),
            ..everything_since(at(0))
        })
        .await
        .unwrap();
    assert_eq!(
        erins,
        vec![AuditRecord {
            at: micros(at(20)),
            kind: "user_disabled".into(),
            user_id: Some(erin.id),
            session_id: Some(erins_session.id),
            ip: Some("2001:db8::1".into()),
            user_agent: Some("tessera-cli/1.0".into()),
            code: Some("admin".into()),
            actor: Some(admin.id),
        }]
    );

    // Filtered by user: only dave's, the anonymous event and erin's left out.
    let daves = AuditQuery {
        user_id: Some(dave.id),
        ..everything_since(at(0))
    };
    let records = repos.audit.events(daves).await.unwrap();
    assert_eq!(kinds(&records), expected(&[5, 4, 2, 1]));
    assert!(records.iter().all(|record| record.user_id == Some(dave.id)));
    assert!(records.iter().all(|record| record.actor.is_none()));

    // The limit keeps the newest.
    let limited = AuditQuery { limit: 2, ..daves };
    let records = repos.audit.events(limited).await.unwrap();
    assert_eq!(kinds(&records), expected(&[5, 4]));
    let none = AuditQuery { limit: 0, ..daves };
    assert!(repos.audit.events(none).await.unwrap().is_empty());

    // The anonymous event comes back with nothing made up.
    let everything = repos.audit.events(everything_since(at(-1))).await.unwrap();
    assert_eq!(everything.len(), events.len());
    let oldest = everything.last().unwrap();
    assert_eq!(
        *oldest,
        AuditRecord {
            at: micros(at(0)),
            kind: "login_failed".into(),
            user_id: None,
            session_id: None,
            ip: None,
            user_agent: None,
            code: None,
            actor: None,
        }
    );

    // A user with no events, and a window after the last event, give nothing.
    let nobody = AuditQuery {
        user_id: Some(admin.id),
        ..everything_since(at(0))
    };
    assert!(repos.audit.events(nobody).await.unwrap().is_empty());
    assert!(
        repos
            .audit
            .events(everything_since(at(31)))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn instants_round_trip_to_the_microsecond(database: &Database) {
    let repos = repositories(database);
    let mut erin = user(&unique_email());
    erin.created_at = at(0) + chrono::TimeDelta::nanoseconds(999);
    erin.disabled_at = Some(at(1) + chrono::TimeDelta::nanoseconds(1));
    repos.users.insert(&erin).await.unwrap();

    let stored = repos.users.find_by_id(erin.id).await.unwrap().unwrap();
    assert_eq!(stored.created_at, micros(erin.created_at));
    assert_eq!(stored.disabled_at, erin.disabled_at.map(micros));
    assert_eq!(
        stored.created_at.timestamp_subsec_nanos() % 1_000,
        0,
        "whole microseconds"
    );
    assert_eq!(stored.created_at.timestamp_subsec_micros(), 123_457);
}

pub async fn migrations_run_again_apply_nothing(database: &Database) {
    assert!(database.run_pending_migrations().await.unwrap().is_empty());
    assert!(database.run_pending_migrations().await.unwrap().is_empty());
    database.ping().await.unwrap();
    assert_eq!(database.name(), "database");
    database.check().await.unwrap();
}

/// Sixteen callers rotate one parent at the same moment, round after round: exactly
/// one wins, the others lose cleanly, and the family never branches.
pub async fn concurrent_rotations_of_one_token_have_exactly_one_winner(database: &Database) {
    const CALLERS: usize = 16;
    const ROUNDS: i64 = 8;
    let repos = repositories(database);
    let (_, _, mut parent) = logged_in(&repos).await;
    let sessions = Arc::new(repos.sessions.clone());

    for round in 1..=ROUNDS {
        let barrier = Arc::new(Barrier::new(CALLERS));
        let rotations: Vec<_> = (0..CALLERS).map(|_| rotation(&parent, at(round))).collect();
        let successors: Vec<_> = rotations
            .iter()
            .map(|rotation| rotation.successor.clone())
            .collect();
        let tasks: Vec<_> = rotations
            .into_iter()
            .map(|rotation| {
                let sessions = Arc::clone(&sessions);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    sessions.rotate(rotation).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap().unwrap());
        }
        let winners: Vec<usize> = outcomes
            .iter()
            .enumerate()
            .filter(|(_, outcome)| **outcome == RotationOutcome::Rotated)
            .map(|(index, _)| index)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        assert_eq!(
            outcomes
                .iter()
                .filter(|outcome| **outcome == RotationOutcome::Lost)
                .count(),
            CALLERS - 1
        );

        let mut stored = Vec::new();
        for successor in &successors {
            if let Some(record) = sessions.find_refresh_token(successor.id).await.unwrap() {
                stored.push(record.token);
            }
        }
        assert_eq!(stored.len(), 1, "round {round}: one successor row");
        assert_eq!(stored[0].id, successors[winners[0]].id);
        assert_eq!(u32::try_from(round).unwrap() + 1, stored[0].generation);
        parent = stored.remove(0);
    }
}

pub async fn a_server_secret_is_made_once_and_then_always_read_back(database: &Database) {
    let secrets = DieselServerSecrets::new(database.clone());
    let first = secrets
        .get_or_insert("token_pepper", vec![1; 32], t0())
        .await
        .unwrap();
    let again = secrets
        .get_or_insert("token_pepper", vec![2; 32], at(60))
        .await
        .unwrap();
    assert_eq!(first, vec![1; 32]);
    assert_eq!(
        again, first,
        "a later candidate never replaces the stored secret"
    );
    let other = secrets
        .get_or_insert("another", vec![3; 32], t0())
        .await
        .unwrap();
    assert_eq!(other, vec![3; 32]);
}
