//! SPEC §2 rule 6: a session can be bound to its client's User-Agent and IP address.
//! Another address is simulated by connecting from 127.0.0.2 (all of 127.0.0.0/8 is
//! loopback on Linux).

use std::net::{IpAddr, Ipv4Addr};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app};

on_both_backends!(
    a_refresh_from_another_user_agent_is_refused_when_sessions_are_bound_to_it,
    a_refresh_from_another_address_is_refused_only_when_ip_change_is_deny,
);

async fn refresh_with(app: &TestApp, client: &reqwest::Client, token: &str) -> Reply {
    app.send(
        client
            .post(app.url("/v1/auth/refresh"))
            .json(&json!({ "refresh_token": token })),
    )
    .await
}

fn client_from(address: Ipv4Addr, user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(address))
        .user_agent(user_agent)
        .build()
        .unwrap()
}

async fn a_refresh_from_another_user_agent_is_refused_when_sessions_are_bound_to_it(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend, &[("TESSERA_BIND_USER_AGENT", "true")]).await else {
        return;
    };
    let email = app.new_user().await;
    let browser = client_from(Ipv4Addr::LOCALHOST, "Browser/1.0");
    let login = app
        .send(
            browser
                .post(app.url("/v1/auth/login"))
                .json(&json!({ "email": email, "password": PASSWORD })),
        )
        .await
        .token_pair();
    let me = app.me(&login.access_token).await;
    assert_eq!(me.json["session"]["user_agent"], "Browser/1.0", "{me:?}");

    let same = refresh_with(&app, &browser, &login.refresh_token)
        .await
        .token_pair();
    let thief = client_from(Ipv4Addr::LOCALHOST, "curl/8.0");
    refresh_with(&app, &thief, &same.refresh_token)
        .await
        .assert_problem(401, "client_mismatch");
    // A refused binding does not spend the token: its owner carries on.
    refresh_with(&app, &browser, &same.refresh_token)
        .await
        .token_pair();
}

async fn a_refresh_from_another_address_is_refused_only_when_ip_change_is_deny(backend: Backend) {
    let home = client_from(Ipv4Addr::LOCALHOST, "App/1.0");
    let elsewhere = client_from(Ipv4Addr::new(127, 0, 0, 2), "App/1.0");
    for (policy, allowed) in [("allow", true), ("audit", true), ("deny", false)] {
        let Some(app) = spawn_app(backend, &[("TESSERA_IP_CHANGE", policy)]).await else {
            return;
        };
        let email = app.new_user().await;
        let login = app
            .send(
                home.post(app.url("/v1/auth/login"))
                    .json(&json!({ "email": email, "password": PASSWORD })),
            )
            .await
            .token_pair();
        let moved = refresh_with(&app, &elsewhere, &login.refresh_token).await;
        if allowed {
            assert_eq!(moved.status, StatusCode::OK, "{policy}: {moved:?}");
        } else {
            moved.assert_problem(401, "client_mismatch");
            refresh_with(&app, &home, &login.refresh_token)
                .await
                .token_pair();
        }
    }
}
