//! The sliding session's limits with real (short) time: the idle timeout, which
//! activity pushes back, and the absolute lifetime, which nothing does.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::time::{Instant, sleep, sleep_until};

use crate::helpers::{Backend, spawn_app};

on_both_backends!(
    a_session_idle_for_longer_than_the_idle_timeout_cannot_refresh,
    activity_keeps_a_session_alive_past_the_idle_timeout,
    refreshing_keeps_a_session_alive_only_until_its_absolute_lifetime,
);

/// access 1 s < idle 2 s ≤ absolute 30 s; grace 500 ms < access; writes every 100 ms.
const SHORT_IDLE: [(&str, &str); 5] = [
    ("TESSERA_ACCESS_TTL", "1s"),
    ("TESSERA_IDLE_TIMEOUT", "2s"),
    ("TESSERA_ABSOLUTE_LIFETIME", "30s"),
    ("TESSERA_REUSE_GRACE", "500ms"),
    ("TESSERA_ACTIVITY_WRITE_INTERVAL", "100ms"),
];

async fn a_session_idle_for_longer_than_the_idle_timeout_cannot_refresh(backend: Backend) {
    let Some(app) = spawn_app(backend, &SHORT_IDLE).await else {
        return;
    };
    let pair = app.new_session().await;

    sleep(Duration::from_millis(2200)).await;

    app.refresh(&pair.refresh_token)
        .await
        .assert_problem(401, "session_idle_timeout");
}

async fn activity_keeps_a_session_alive_past_the_idle_timeout(backend: Backend) {
    // The leeway keeps the 1 s access token accepted, so `/me` can show activity for
    // longer than the idle timeout without a refresh (a refresh would reset the clock
    // by itself).
    let mut settings = SHORT_IDLE.to_vec();
    settings.push(("TESSERA_CLOCK_LEEWAY", "30s"));
    let Some(app) = spawn_app(backend, &settings).await else {
        return;
    };
    let pair = app.new_session().await;
    let logged_in = Instant::now();

    // Active for 3 s, 1.5 × the idle timeout, with no refresh.
    while logged_in.elapsed() < Duration::from_secs(3) {
        sleep(Duration::from_millis(300)).await;
        let me = app.me(&pair.access_token).await;
        assert_eq!(me.status, StatusCode::OK, "{me:?}");
    }

    let refreshed = app.refresh(&pair.refresh_token).await.token_pair();
    assert_eq!(refreshed.session_id, pair.session_id);
    assert_eq!(app.me(&refreshed.access_token).await.status, StatusCode::OK);
}

async fn refreshing_keeps_a_session_alive_only_until_its_absolute_lifetime(backend: Backend) {
    const ABSOLUTE: Duration = Duration::from_secs(4);
    let Some(app) = spawn_app(
        backend,
        &[
            ("TESSERA_ACCESS_TTL", "1s"),
            ("TESSERA_IDLE_TIMEOUT", "2s"),
            ("TESSERA_ABSOLUTE_LIFETIME", "4s"),
            ("TESSERA_REUSE_GRACE", "500ms"),
            ("TESSERA_ACTIVITY_WRITE_INTERVAL", "100ms"),
            ("TESSERA_CLOCK_LEEWAY", "0s"),
        ],
    )
    .await
    else {
        return;
    };
    let email = app.new_user().await;
    let mut pair = app.login(&email, crate::helpers::PASSWORD).await;
    // The session started before this instant.
    let after_login = Instant::now();
    assert_eq!(pair.refresh_expires_in, 2, "min(idle 2 s, 4 s left)");
    let mut told = vec![pair.refresh_expires_in];

    // Every 0.8 s, well inside the 2 s idle timeout, up to 0.8 s before the end.
    for round in 1..=4 {
        sleep_until(after_login + Duration::from_millis(800) * round).await;
        let sent = Instant::now();
        pair = app.refresh(&pair.refresh_token).await.token_pair();
        // An upper bound of what is left: the session started before `after_login`
        // and the server's `now` is after `sent`.
        let left = ABSOLUTE.saturating_sub(sent - after_login).as_secs_f64();
        assert!(
            pair.refresh_expires_in <= 2 && (pair.refresh_expires_in as f64) <= left,
            "round {round}: refresh_expires_in {} with {left:.2} s left",
            pair.refresh_expires_in
        );
        assert!(
            (pair.expires_in as f64) <= left,
            "the access token cannot outlive the session: {} with {left:.2} s left",
            pair.expires_in
        );
        told.push(pair.refresh_expires_in);
    }
    assert!(
        told.windows(2).all(|w| w[1] <= w[0]) && told.last() < told.first(),
        "refresh_expires_in shrinks as the end approaches: {told:?}"
    );

    sleep_until(after_login + ABSOLUTE + Duration::from_millis(200)).await;
    app.refresh(&pair.refresh_token)
        .await
        .assert_problem(401, "session_lifetime_exceeded");
    // Its last access token ended with the session too.
    app.me(&pair.access_token)
        .await
        .assert_problem(401, "unauthorized");
}
