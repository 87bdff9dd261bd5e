//! A user manages their sessions (list, revoke one, logout-all, change password), and
//! an admin manages another user's (find, list, revoke all, disable, enable).

use chrono::TimeDelta;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::{Backend, PASSWORD, SessionEntry, TestApp, TokenPair, spawn_app};

on_both_backends!(
    the_session_list_shows_each_device_and_marks_only_the_callers_session,
    revoking_another_of_ones_sessions_ends_it_at_once_and_only_it,
    another_users_unknown_or_malformed_session_id_is_not_found,
    logout_all_ends_every_live_session_of_the_user_at_once,
    a_wrong_current_password_or_a_bad_new_one_changes_nothing,
    changing_the_password_ends_every_other_session_and_replaces_the_password,
    a_plain_user_is_forbidden_every_admin_endpoint,
    an_admin_finds_a_user_lists_their_sessions_and_revokes_them_all,
    an_admin_disables_and_re_enables_a_user,
    refreshing_a_session_of_a_disabled_user_answers_user_disabled,
    admin_endpoints_answer_not_found_for_an_unknown_user,
);

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CURL: &str = "curl/8.0";
const NEW_PASSWORD: &str = "a different horse, battery and staple";
/// A well-formed id nobody has.
const UNKNOWN_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0001);

/// Registers a user with [`PASSWORD`]; returns the address and the id.
async fn registered_user(app: &TestApp) -> (String, Uuid) {
    let email = crate::helpers::unique_email();
    let reply = app.register(&email, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let id = reply.json["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a user id: {}", reply.text));
    (email, id)
}

/// Asserts the session of `pair` still works for its access token and its refresh
/// token; returns the rotated pair.
async fn assert_alive(app: &TestApp, pair: &TokenPair) -> TokenPair {
    let me = app.me(&pair.access_token).await;
    assert_eq!(me.status, StatusCode::OK, "the session should work: {me:?}");
    assert_eq!(me.json["session"]["id"], pair.session_id.to_string());
    let next = app.refresh(&pair.refresh_token).await.token_pair();
    assert_eq!(next.session_id, pair.session_id);
    next
}

/// Asserts the session of `pair` is refused as revoked, for its refresh token and its
/// access token alike.
async fn assert_revoked(app: &TestApp, pair: &TokenPair) {
    app.refresh(&pair.refresh_token)
        .await
        .assert_problem(401, "session_revoked");
    app.me(&pair.access_token)
        .await
        .assert_problem(401, "session_revoked");
}

#[track_caller]
fn entry(sessions: &[SessionEntry], id: Uuid) -> &SessionEntry {
    sessions
        .iter()
        .find(|session| session.id == id)
        .unwrap_or_else(|| panic!("session {id} missing from {sessions:#?}"))
}

fn ids(sessions: &[SessionEntry]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = sessions.iter().map(|session| session.id).collect();
    ids.sort_unstable();
    ids
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort_unstable();
    ids
}

async fn the_session_list_shows_each_device_and_marks_only_the_callers_session(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;
    let firefox = app.login_from(&email, PASSWORD, FIREFOX).await;
    let curl = app.login_from(&email, PASSWORD, CURL).await;
    let stranger = app.new_session().await;

    let reply = app.list_sessions(&firefox.access_token).await;
    // Exactly the documented fields, nothing more.
    for session in reply.json["sessions"].as_array().into_iter().flatten() {
        let mut keys: Vec<&str> = session
            .as_object()
            .map(|object| object.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "absolute_expires_at",
                "created_at",
                "current",
                "device",
                "id",
                "ip",
                "last_used_at",
                "user_agent"
            ],
            "{}",
            reply.text
        );
    }
    // No secret of any kind.
    let lowered = reply.text.to_lowercase();
    for secret in ["hash", "token", "password"] {
        assert!(!lowered.contains(secret), "{secret:?} in {}", reply.text);
    }
    for pair in [&firefox, &curl] {
        for secret in [
            pair.access_token.as_str(),
            pair.refresh_token.as_str(),
            pair.refresh_token.rsplit('.').next().unwrap_or_default(),
        ] {
            assert!(!reply.text.contains(secret), "a token in {}", reply.text);
        }
    }
    let sessions = reply.session_list();
    assert_eq!(
        ids(&sessions),
        sorted(vec![firefox.session_id, curl.session_id]),
        "both devices and nobody else's: {sessions:#?}"
    );

    let on_firefox = entry(&sessions, firefox.session_id);
    assert_eq!(on_firefox.device, "Firefox on Linux");
    assert_eq!(on_firefox.user_agent.as_deref(), Some(FIREFOX));
    assert_eq!(on_firefox.ip.as_deref(), Some("127.0.0.1"));
    assert!(on_firefox.current, "the caller's session: {on_firefox:?}");
    let on_curl = entry(&sessions, curl.session_id);
    assert_eq!(on_curl.device, "curl");
    assert_eq!(on_curl.user_agent.as_deref(), Some(CURL));
    assert_eq!(on_curl.ip.as_deref(), Some("127.0.0.1"));
    assert!(!on_curl.current, "not the caller's session: {on_curl:?}");
    for session in &sessions {
        assert!(session.created_at <= session.last_used_at, "{session:?}");
        let lifetime = session.absolute_expires_at - session.created_at;
        assert!(
            (lifetime - TimeDelta::days(30)).abs() <= TimeDelta::seconds(1),
            "absolute_expires_at is created_at + the default 30 days: {session:?}"
        );
    }

    // Asked from the other device, `current` follows the caller.
    let sessions = app.sessions(&curl.access_token).await;
    assert_eq!(sessions.len(), 2, "{sessions:#?}");
    assert!(entry(&sessions, curl.session_id).current);
    assert!(!entry(&sessions, firefox.session_id).current);

    // Another user sees only their own session; a client without a User-Agent is an
    // unknown device.
    let theirs = app.sessions(&stranger.access_token).await;
    assert_eq!(ids(&theirs), [stranger.session_id], "{theirs:#?}");
    assert!(theirs[0].current);
    assert_eq!(theirs[0].device, "Unknown device");
    assert_eq!(theirs[0].user_agent, None);

    // The list is the user's business only.
    app.send(app.client.get(app.url("/v1/auth/sessions")))
        .await
        .assert_problem(401, "unauthorized");
}

async fn revoking_another_of_ones_sessions_ends_it_at_once_and_only_it(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;
    let laptop = app.login_from(&email, PASSWORD, FIREFOX).await;
    let phone = app.login_from(&email, PASSWORD, CURL).await;
    let listed = app.sessions(&laptop.access_token).await;
    assert_eq!(
        ids(&listed),
        sorted(vec![laptop.session_id, phone.session_id])
    );

    app.revoke_session(&laptop.access_token, &phone.session_id.to_string())
        .await
        .assert_no_content();

    // At once: the refresh token and the (unexpired) access token alike.
    assert_revoked(&app, &phone).await;
    app.list_sessions(&phone.access_token)
        .await
        .assert_problem(401, "session_revoked");
    // The caller's own session goes on, and the list no longer shows the ended one.
    let laptop = assert_alive(&app, &laptop).await;
    let listed = app.sessions(&laptop.access_token).await;
    assert_eq!(ids(&listed), [laptop.session_id], "{listed:#?}");
    assert!(listed[0].current);
}

async fn another_users_unknown_or_malformed_session_id_is_not_found(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let mine = app.new_session().await;
    let theirs = app.new_session().await;

    // Someone else's session is not found, exactly like one that does not exist...
    app.revoke_session(&mine.access_token, &theirs.session_id.to_string())
        .await
        .assert_problem(404, "not_found");
    app.revoke_session(&mine.access_token, &UNKNOWN_ID.to_string())
        .await
        .assert_problem(404, "not_found");
    for malformed in ["not-a-session-id", "42", "00000000-0000-0000-0000"] {
        app.revoke_session(&mine.access_token, malformed)
            .await
            .assert_problem(404, "not_found");
    }

    // ...and nothing was ended: neither the owner's session nor the caller's.
    let theirs = assert_alive(&app, &theirs).await;
    assert_eq!(app.sessions(&theirs.access_token).await.len(), 1);
    assert_alive(&app, &mine).await;

    // Without a token the question is not even considered.
    app.send(
        app.client
            .delete(app.url(&format!("/v1/auth/sessions/{}", theirs.session_id))),
    )
    .await
    .assert_problem(401, "unauthorized");
}

async fn logout_all_ends_every_live_session_of_the_user_at_once(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;
    let first = app.login_from(&email, PASSWORD, FIREFOX).await;
    let second = app.login_from(&email, PASSWORD, CURL).await;
    let third = app.login(&email, PASSWORD).await;
    let second_rotated = app.refresh(&second.refresh_token).await.token_pair();
    // Already ended: not counted again.
    let logged_out = app.login(&email, PASSWORD).await;
    app.logout(&logged_out.access_token)
        .await
        .assert_no_content();
    let bystander = app.new_session().await;

    let reply = app.logout_all(&first.access_token).await;
    assert_eq!(reply.content_type(), "application/json", "{reply:?}");
    assert_eq!(
        reply.revoked_count(),
        3,
        "the live sessions: {}",
        reply.text
    );

    // Every token of every session, the caller's included, the rotated one included.
    for pair in [&first, &second, &second_rotated, &third, &logged_out] {
        assert_revoked(&app, pair).await;
    }
    app.logout_all(&first.access_token)
        .await
        .assert_problem(401, "session_revoked");
    // Another user is untouched.
    assert_alive(&app, &bystander).await;

    // Logging in again starts afresh.
    let again = app.login(&email, PASSWORD).await;
    let listed = app.sessions(&again.access_token).await;
    assert_eq!(ids(&listed), [again.session_id], "{listed:#?}");
    assert_eq!(app.logout_all(&again.access_token).await.revoked_count(), 1);
}

async fn a_wrong_current_password_or_a_bad_new_one_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;
    let caller = app.login_from(&email, PASSWORD, FIREFOX).await;
    let other = app.login_from(&email, PASSWORD, CURL).await;

    app.change_password(&caller.access_token, "not the password", NEW_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    for bad in ["short", "x".repeat(129).as_str()] {
        app.change_password(&caller.access_token, PASSWORD, bad)
            .await
            .assert_problem(400, "validation_failed");
    }
    app.send(
        app.client
            .post(app.url("/v1/auth/password"))
            .json(&serde_json::json!({
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
            })),
    )
    .await
    .assert_problem(401, "unauthorized");

    // Nothing changed: both sessions work, the old password logs in, the new does not.
    let caller = assert_alive(&app, &caller).await;
    assert_alive(&app, &other).await;
    assert_eq!(app.sessions(&caller.access_token).await.len(), 2);
    app.try_login(&email, NEW_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    app.login(&email, PASSWORD).await;
}

async fn changing_the_password_ends_every_other_session_and_replaces_the_password(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;
    let caller = app.login_from(&email, PASSWORD, FIREFOX).await;
    let phone = app.login_from(&email, PASSWORD, CURL).await;
    let tablet = app.login(&email, PASSWORD).await;
    let bystander = app.new_session().await;

    app.change_password(&caller.access_token, PASSWORD, NEW_PASSWORD)
        .await
        .assert_no_content();

    // The other sessions end at once; the caller's goes on.
    assert_revoked(&app, &phone).await;
    assert_revoked(&app, &tablet).await;
    let caller = assert_alive(&app, &caller).await;
    let listed = app.sessions(&caller.access_token).await;
    assert_eq!(ids(&listed), [caller.session_id], "{listed:#?}");
    assert_alive(&app, &bystander).await;

    // The old password is gone, the new one logs in.
    app.try_login(&email, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let fresh = app.login(&email, NEW_PASSWORD).await;
    assert_alive(&app, &fresh).await;

    // The old password no longer counts as the current one either.
    app.change_password(&caller.access_token, PASSWORD, "yet another long password")
        .await
        .assert_problem(401, "invalid_credentials");
}

async fn a_plain_user_is_forbidden_every_admin_endpoint(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let (email, own_id) = registered_user(&app).await;
    let (other_email, other_id) = registered_user(&app).await;
    let user = app.login(&email, PASSWORD).await;
    let other = app.login(&other_email, PASSWORD).await;

    for target in [own_id, other_id, UNKNOWN_ID] {
        app.admin_user_sessions(&user.access_token, target)
            .await
            .assert_problem(403, "forbidden");
        app.admin_revoke_user_sessions(&user.access_token, target)
            .await
            .assert_problem(403, "forbidden");
        app.admin_disable_user(&user.access_token, target)
            .await
            .assert_problem(403, "forbidden");
        app.admin_enable_user(&user.access_token, target)
            .await
            .assert_problem(403, "forbidden");
    }
    for address in [email.as_str(), other_email.as_str(), "nobody@example.com"] {
        app.admin_find_user(&user.access_token, address)
            .await
            .assert_problem(403, "forbidden");
    }
    // Without a token: unauthorized, not forbidden.
    app.send(
        app.client
            .get(app.url(&format!("/v1/admin/users/{other_id}/sessions"))),
    )
    .await
    .assert_problem(401, "unauthorized");

    // Nothing happened to anyone.
    assert_alive(&app, &user).await;
    assert_alive(&app, &other).await;
    app.login(&other_email, PASSWORD).await;
}

async fn an_admin_finds_a_user_lists_their_sessions_and_revokes_them_all(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let admin_email = app.new_admin().await;
    let admin = app.login(&admin_email, PASSWORD).await;
    let (email, id) = registered_user(&app).await;
    let laptop = app.login_from(&email, PASSWORD, FIREFOX).await;
    let phone = app.login_from(&email, PASSWORD, CURL).await;
    let bystander = app.new_session().await;

    // Found by address, in any case.
    let found = app.admin_find_user(&admin.access_token, &email).await;
    assert_eq!(found.status, StatusCode::OK, "{found:?}");
    assert_eq!(found.content_type(), "application/json");
    let user: crate::helpers::AdminUser = serde_json::from_value(found.json.clone())
        .unwrap_or_else(|error| panic!("not a user ({error}): {}", found.text));
    assert_eq!(user.id, id);
    assert_eq!(user.email, email.to_lowercase());
    assert_eq!(user.roles, ["user"]);
    assert!(!user.disabled);
    assert!(
        !found.text.to_lowercase().contains("hash"),
        "{}",
        found.text
    );
    let again = app
        .admin_find_user(&admin.access_token, &email.to_uppercase())
        .await;
    assert_eq!(again.json["id"], id.to_string(), "{again:?}");
    // The admin is a user too, with its role.
    let itself = app.admin_find_user(&admin.access_token, &admin_email).await;
    assert_eq!(
        itself.json["roles"],
        serde_json::json!(["admin"]),
        "{itself:?}"
    );

    // Their sessions, as they would see them (minus `current`, which is theirs).
    let sessions = app
        .admin_user_sessions(&admin.access_token, id)
        .await
        .session_list();
    assert_eq!(
        ids(&sessions),
        sorted(vec![laptop.session_id, phone.session_id]),
        "{sessions:#?}"
    );
    assert_eq!(
        entry(&sessions, laptop.session_id).device,
        "Firefox on Linux"
    );
    assert_eq!(entry(&sessions, phone.session_id).device, "curl");
    for session in &sessions {
        assert_eq!(session.ip.as_deref(), Some("127.0.0.1"));
        assert!(!session.current, "not the admin's session: {session:?}");
    }

    // Revoked all at once: every token refused immediately.
    let reply = app
        .admin_revoke_user_sessions(&admin.access_token, id)
        .await;
    assert_eq!(reply.revoked_count(), 2, "{}", reply.text);
    assert_revoked(&app, &laptop).await;
    assert_revoked(&app, &phone).await;
    let sessions = app
        .admin_user_sessions(&admin.access_token, id)
        .await
        .session_list();
    assert!(sessions.is_empty(), "{sessions:#?}");
    assert_eq!(
        app.admin_revoke_user_sessions(&admin.access_token, id)
            .await
            .revoked_count(),
        0
    );

    // The admin and other users go on; the user is not barred from logging in.
    assert_alive(&app, &admin).await;
    assert_alive(&app, &bystander).await;
    let back = app.login(&email, PASSWORD).await;
    assert_alive(&app, &back).await;
}

async fn an_admin_disables_and_re_enables_a_user(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let admin_email = app.new_admin().await;
    let admin = app.login(&admin_email, PASSWORD).await;
    let (email, id) = registered_user(&app).await;
    let before = app.login(&email, PASSWORD).await;
    let bystander = app.new_session().await;

    app.admin_disable_user(&admin.access_token, id)
        .await
        .assert_no_content();

    // The running session is refused at once, for both tokens.
    assert_eq!(
        app.refresh(&before.refresh_token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let me = app.me(&before.access_token).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{me:?}");
    // No new session: the right password is told `user_disabled`, a wrong one learns
    // nothing.
    app.try_login(&email, PASSWORD)
        .await
        .assert_problem(401, "user_disabled");
    app.try_login(&email, "not the password")
        .await
        .assert_problem(401, "invalid_credentials");
    let found = app.admin_find_user(&admin.access_token, &email).await;
    assert_eq!(found.json["disabled"], true, "{found:?}");
    assert!(
        app.admin_user_sessions(&admin.access_token, id)
            .await
            .session_list()
            .is_empty()
    );

    app.admin_enable_user(&admin.access_token, id)
        .await
        .assert_no_content();

    let found = app.admin_find_user(&admin.access_token, &email).await;
    assert_eq!(found.json["disabled"], false, "{found:?}");
    let after = app.login(&email, PASSWORD).await;
    assert_alive(&app, &after).await;
    // A session ended by disabling stays ended.
    assert_eq!(
        app.refresh(&before.refresh_token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_alive(&app, &admin).await;
    assert_alive(&app, &bystander).await;
}

/// SPEC §2 rule 5: a refresh for a disabled user answers `user_disabled`, which tells a
/// client that logging in again will not help either.
async fn refreshing_a_session_of_a_disabled_user_answers_user_disabled(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let admin_email = app.new_admin().await;
    let admin = app.login(&admin_email, PASSWORD).await;
    let (email, id) = registered_user(&app).await;
    // Logged in before the disabling, to hold a refresh token.
    let before = app.login(&email, PASSWORD).await;

    app.admin_disable_user(&admin.access_token, id)
        .await
        .assert_no_content();

    app.refresh(&before.refresh_token)
        .await
        .assert_problem(401, "user_disabled");
    app.try_login(&email, PASSWORD)
        .await
        .assert_problem(401, "user_disabled");
}

async fn admin_endpoints_answer_not_found_for_an_unknown_user(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let admin_email = app.new_admin().await;
    let admin = app.login(&admin_email, PASSWORD).await;

    app.admin_find_user(&admin.access_token, "nobody@example.com")
        .await
        .assert_problem(404, "not_found");
    app.admin_user_sessions(&admin.access_token, UNKNOWN_ID)
        .await
        .assert_problem(404, "not_found");
    app.admin_revoke_user_sessions(&admin.access_token, UNKNOWN_ID)
        .await
        .assert_problem(404, "not_found");
    app.admin_disable_user(&admin.access_token, UNKNOWN_ID)
        .await
        .assert_problem(404, "not_found");
    app.admin_enable_user(&admin.access_token, UNKNOWN_ID)
        .await
        .assert_problem(404, "not_found");
    assert_alive(&app, &admin).await;
}
