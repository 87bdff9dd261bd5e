//! Rotation under duplicates and replays (SPEC §2 rule 7): a duplicate inside the
//! grace window gets the first answer again; a replay after it revokes the family.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::sync::Barrier;

use crate::helpers::{Backend, TokenPair, spawn_app};

on_both_backends!(
    a_duplicate_refresh_inside_the_grace_window_gets_the_same_answer,
    concurrent_refreshes_with_one_token_all_get_the_same_answer,
    a_replay_after_the_grace_window_revokes_the_whole_family,
    a_refresh_racing_a_logout_never_outlives_it,
);

async fn a_duplicate_refresh_inside_the_grace_window_gets_the_same_answer(backend: Backend) {
    let Some(app) = spawn_app(backend, &[("TESSERA_REUSE_GRACE", "10s")]).await else {
        return;
    };
    let login = app.new_session().await;

    let first = app.refresh(&login.refresh_token).await.token_pair();
    let second = app.refresh(&login.refresh_token).await.token_pair();
    assert_eq!(second.access_token, first.access_token);
    assert_eq!(second.refresh_token, first.refresh_token);
    assert_eq!(second.session_id, first.session_id);

    // The chain did not branch: the successor rotates normally, once.
    let next = app.refresh(&first.refresh_token).await.token_pair();
    assert_ne!(next.refresh_token, first.refresh_token);
    assert_eq!(app.me(&next.access_token).await.status, StatusCode::OK);
    // And the first token's duplicate still answers with its own successor, not a
    // newer generation.
    let third = app.refresh(&login.refresh_token).await.token_pair();
    assert_eq!(third.refresh_token, first.refresh_token);
    assert_eq!(third.access_token, first.access_token);
}

async fn concurrent_refreshes_with_one_token_all_get_the_same_answer(backend: Backend) {
    const CALLERS: usize = 8;
    let Some(app) = spawn_app(backend, &[("TESSERA_REUSE_GRACE", "10s")]).await else {
        return;
    };
    let app = Arc::new(app);
    let login = app.new_session().await;

    let start = Arc::new(Barrier::new(CALLERS));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let app = Arc::clone(&app);
            let start = Arc::clone(&start);
            let token = login.refresh_token.clone();
            tokio::spawn(async move {
                start.wait().await;
                app.refresh(&token).await
            })
        })
        .collect();
    let mut pairs: Vec<TokenPair> = Vec::new();
    for caller in callers {
        pairs.push(caller.await.unwrap().token_pair());
    }

    let winner = &pairs[0];
    assert_ne!(winner.refresh_token, login.refresh_token);
    for pair in &pairs {
        assert_eq!(pair.access_token, winner.access_token, "one rotation only");
        assert_eq!(
            pair.refresh_token, winner.refresh_token,
            "one rotation only"
        );
        assert_eq!(pair.session_id, login.session_id);
    }
    // The successor everyone got is the live one.
    let next = app.refresh(&winner.refresh_token).await.token_pair();
    assert_ne!(next.refresh_token, winner.refresh_token);
    assert_eq!(app.me(&next.access_token).await.status, StatusCode::OK);
}

async fn a_replay_after_the_grace_window_revokes_the_whole_family(backend: Backend) {
    // Access tokens live long enough (≥ 2 s with whole-second `exp`) that a 401 below
    // comes from the revocation, not from expiry.
    let Some(app) = spawn_app(
        backend,
        &[
            ("TESSERA_REUSE_GRACE", "500ms"),
            ("TESSERA_ACCESS_TTL", "3s"),
            ("TESSERA_CLOCK_LEEWAY", "0s"),
        ],
    )
    .await
    else {
        return;
    };
    let login = app.new_session().await;
    let rotated = app.refresh(&login.refresh_token).await.token_pair();
    assert_eq!(app.me(&rotated.access_token).await.status, StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(600)).await;

    app.refresh(&login.refresh_token)
        .await
        .assert_problem(401, "refresh_token_reused");
    // Every generation is dead, and access tokens of the family are refused at once.
    app.refresh(&rotated.refresh_token)
        .await
        .assert_problem(401, "session_revoked");
    app.me(&rotated.access_token)
        .await
        .assert_problem(401, "session_revoked");
    app.me(&login.access_token)
        .await
        .assert_problem(401, "session_revoked");
    // Refused before any database read (logout reads the session but not whether it
    // is live): the revocation list knows.
    app.logout(&rotated.access_token)
        .await
        .assert_problem(401, "session_revoked");
    app.refresh(&login.refresh_token)
        .await
        .assert_problem(401, "session_revoked");
}

/// SPEC §2: no write resurrects a revoked session. Whichever of a logout and a
/// refresh wins, once the logout has answered nothing of the session works.
async fn a_refresh_racing_a_logout_never_outlives_it(backend: Backend) {
    const RACES: usize = 6;
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let app = Arc::new(app);
    for _ in 0..RACES {
        let pair = app.new_session().await;
        let start = Arc::new(Barrier::new(2));
        let refresh = {
            let (app, start, token) = (
                Arc::clone(&app),
                Arc::clone(&start),
                pair.refresh_token.clone(),
            );
            tokio::spawn(async move {
                start.wait().await;
                app.refresh(&token).await
            })
        };
        let logout = {
            let (app, start, token) = (
                Arc::clone(&app),
                Arc::clone(&start),
                pair.access_token.clone(),
            );
            tokio::spawn(async move {
                start.wait().await;
                app.logout(&token).await
            })
        };
        let refreshed = refresh.await.unwrap();
        assert_eq!(logout.await.unwrap().status, StatusCode::NO_CONTENT);

        if refreshed.status == StatusCode::OK {
            let won = refreshed.token_pair();
            app.refresh(&won.refresh_token)
                .await
                .assert_problem(401, "session_revoked");
            app.me(&won.access_token)
                .await
                .assert_problem(401, "session_revoked");
        } else {
            refreshed.assert_problem(401, "session_revoked");
        }
        app.refresh(&pair.refresh_token)
            .await
            .assert_problem(401, "session_revoked");
    }
}
