//! The small values the use cases hand out: secrets that do not print, the stored
//! spellings clients and dashboards rely on, and the policy the service runs with.

use tessera_domain::{RefreshTokenId, TimeDelta};
use uuid::Uuid;

use super::support::{Mocks, SESSION_ID, USER_ID, minutes, now, policy_with};
use crate::{
    AccessToken, AuthEventKind, GrantSecrets, MintedRefreshToken, PlainRefreshToken,
    RefreshTokenHash, SealedGrant, SigningAlgorithm, SigningKeyMaterial, TokenGrant,
};

const SECRET: &str = "s3cr3t-value";

#[test]
fn secrets_print_nothing_secret_in_debug_output() {
    let plain = PlainRefreshToken::new(SECRET.to_owned());
    let access = AccessToken::new(SECRET.to_owned());
    let printed = [
        format!("{plain:?}"),
        format!("{access:?}"),
        format!("{:?}", RefreshTokenHash::new(SECRET.as_bytes().to_vec())),
        format!("{:?}", SealedGrant::new(SECRET.as_bytes().to_vec())),
        format!("{:?}", SigningKeyMaterial::new(SECRET.as_bytes().to_vec())),
        format!(
            "{:?}",
            GrantSecrets {
                access_token: access.clone(),
                access_expires_at: now(),
                refresh_token: plain.clone(),
            }
        ),
        format!(
            "{:?}",
            MintedRefreshToken {
                id: RefreshTokenId::from_uuid(Uuid::nil()),
                plain: plain.clone(),
                hash: RefreshTokenHash::new(SECRET.as_bytes().to_vec()),
            }
        ),
        format!(
            "{:?}",
            TokenGrant {
                user_id: USER_ID,
                session_id: SESSION_ID,
                access_token: access,
                expires_in: TimeDelta::minutes(15),
                refresh_token: plain,
                refresh_expires_in: TimeDelta::days(7),
            }
        ),
    ];
    for output in printed {
        assert!(!output.contains(SECRET), "{output}");
        assert!(!output.contains("115, 51, 99"), "bytes printed: {output}");
        assert!(output.contains("<redacted>"), "{output}");
    }
}

#[test]
fn secrets_are_handed_out_unchanged_to_whoever_needs_them() {
    assert_eq!(PlainRefreshToken::new(SECRET.to_owned()).expose(), SECRET);
    assert_eq!(AccessToken::new(SECRET.to_owned()).expose(), SECRET);
    assert_eq!(RefreshTokenHash::new(vec![1, 2]).as_bytes(), &[1, 2]);
    assert_eq!(SealedGrant::new(vec![3]).as_bytes(), &[3]);
    assert_eq!(SigningKeyMaterial::new(vec![4]).expose(), &[4]);
}

#[test]
fn signing_algorithms_parse_their_jose_names_and_nothing_else() {
    for algorithm in [
        SigningAlgorithm::EdDsa,
        SigningAlgorithm::Es256,
        SigningAlgorithm::Rs256,
        SigningAlgorithm::Hs256,
    ] {
        assert_eq!(algorithm.as_str().parse(), Ok(algorithm));
        assert_eq!(
            algorithm.is_asymmetric(),
            algorithm != SigningAlgorithm::Hs256
        );
    }
    assert_eq!(" HS256 ".parse(), Ok(SigningAlgorithm::Hs256));
    assert_eq!(SigningAlgorithm::default(), SigningAlgorithm::EdDsa);
    for wrong in ["ES384", "rs256", "eddsa", "none", ""] {
        let error = wrong.parse::<SigningAlgorithm>().unwrap_err();
        assert_eq!(error.setting(), "signing_alg", "{wrong}");
        let message = error.to_string();
        for name in ["EdDSA", "ES256", "RS256", "HS256"] {
            assert!(message.contains(name), "{message}");
        }
    }
}

#[test]
fn audit_events_are_stored_under_their_stable_names() {
    let names = [
        (AuthEventKind::Registered, "registered"),
        (AuthEventKind::LoginSucceeded, "login_succeeded"),
        (AuthEventKind::LoginFailed, "login_failed"),
        (AuthEventKind::Refreshed, "refreshed"),
        (AuthEventKind::RefreshRepeated, "refresh_repeated"),
        (AuthEventKind::RefreshRefused, "refresh_refused"),
        (AuthEventKind::ReuseDetected, "refresh_token_reused"),
        (AuthEventKind::Logout, "logout"),
    ];
    for (kind, name) in names {
        assert_eq!(kind.as_str(), name);
    }
}

#[test]
fn the_service_hands_out_the_policy_it_was_built_with() {
    let policy = policy_with(|settings| settings.access_ttl = minutes(5));
    let mut mocks = Mocks::new();
    mocks.policy = policy.clone();
    let (service, _audit) = mocks.build();

    assert_eq!(*service.policy(), policy);
    assert_eq!(service.policy().access_ttl(), minutes(5));
}
