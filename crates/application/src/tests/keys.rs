//! Start-up: a signing key of the configured algorithm exists afterwards.

use crate::ports::{MockSigningKeyGenerator, MockSigningKeyRepository};
use crate::{Error, SigningAlgorithm, SigningKey, SigningKeyMaterial, ensure_signing_key};

use super::support::{days, now, unavailable};

fn key(kid: &str, algorithm: SigningAlgorithm) -> SigningKey {
    SigningKey {
        kid: kid.to_owned(),
        algorithm,
        private_key: SigningKeyMaterial::new(vec![7; 32]),
        public_key: vec![9; 32],
        created_at: now() - days(10),
        retired_at: None,
    }
}

fn stored(keys: Vec<SigningKey>) -> MockSigningKeyRepository {
    let mut repository = MockSigningKeyRepository::new();
    repository
        .expect_list()
        .times(1)
        .return_once(move || Ok(keys));
    repository
}

fn generates(new_key: SigningKey) -> MockSigningKeyGenerator {
    let mut generator = MockSigningKeyGenerator::new();
    generator
        .expect_generate()
        .withf(|algorithm, at| *algorithm == SigningAlgorithm::EdDsa && *at == now())
        .times(1)
        .return_once(move |_, _| Ok(new_key));
    generator
}

#[tokio::test]
async fn an_existing_key_of_the_algorithm_is_kept_and_none_is_generated() {
    let existing = vec![
        key("ed-1", SigningAlgorithm::EdDsa),
        key("hs-1", SigningAlgorithm::Hs256),
    ];
    let mut repository = stored(existing.clone());
    repository.expect_insert().never();
    let mut generator = MockSigningKeyGenerator::new();
    generator.expect_generate().never();

    let keys = ensure_signing_key(&repository, &generator, SigningAlgorithm::EdDsa, now())
        .await
        .unwrap();

    assert_eq!(keys, existing);
}

#[tokio::test]
async fn without_a_key_of_the_algorithm_one_is_generated_stored_and_listed_first() {
    let old = key("hs-1", SigningAlgorithm::Hs256);
    let new = key("ed-2", SigningAlgorithm::EdDsa);
    let mut repository = stored(vec![old.clone()]);
    let expected = new.clone();
    repository
        .expect_insert()
        .withf(move |inserted| *inserted == expected)
        .times(1)
        .returning(|_| Ok(()));
    let generator = generates(new.clone());

    let keys = ensure_signing_key(&repository, &generator, SigningAlgorithm::EdDsa, now())
        .await
        .unwrap();

    assert_eq!(keys, vec![new, old]);
}

#[tokio::test]
async fn a_conflicting_key_id_is_reported() {
    let mut repository = stored(Vec::new());
    repository
        .expect_insert()
        .times(1)
        .returning(|_| Err(Error::Conflict("signing key")));
    let generator = generates(key("ed-2", SigningAlgorithm::EdDsa));

    let result = ensure_signing_key(&repository, &generator, SigningAlgorithm::EdDsa, now()).await;

    assert!(
        matches!(result, Err(Error::Conflict("signing key"))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_key_that_cannot_be_generated_is_reported_and_nothing_is_stored() {
    let mut repository = stored(Vec::new());
    repository.expect_insert().never();
    let mut generator = MockSigningKeyGenerator::new();
    generator
        .expect_generate()
        .times(1)
        .returning(|_, _| Err(Error::unexpected("no entropy")));

    let result = ensure_signing_key(&repository, &generator, SigningAlgorithm::EdDsa, now()).await;

    assert!(matches!(result, Err(Error::Unexpected(_))), "{result:?}");
}

#[tokio::test]
async fn an_unreachable_key_store_fails_start_up() {
    let mut repository = MockSigningKeyRepository::new();
    repository
        .expect_list()
        .times(1)
        .returning(|| Err(unavailable()));
    let mut generator = MockSigningKeyGenerator::new();
    generator.expect_generate().never();

    let result = ensure_signing_key(&repository, &generator, SigningAlgorithm::EdDsa, now()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

fn retired(kid: &str, at: tessera_domain::Instant) -> SigningKey {
    SigningKey {
        retired_at: Some(at),
        ..key(kid, SigningAlgorithm::EdDsa)
    }
}

#[test]
fn a_retired_key_is_kept_exactly_while_a_token_it_signed_can_be_live() {
    let policy = tessera_domain::SessionPolicy::default();
    let leeway = tessera_domain::TimeDelta::seconds(30);
    let retired_at = now() - policy.access_ttl() - leeway;
    let keys = vec![
        key("current", SigningAlgorithm::EdDsa),
        retired("just-gone", retired_at),
        retired(
            "still-needed",
            retired_at + tessera_domain::TimeDelta::microseconds(1),
        ),
    ];

    let kept = crate::keys_still_verifying(keys, &policy, leeway, now());

    let kids: Vec<&str> = kept.iter().map(|key| key.kid.as_str()).collect();
    assert_eq!(kids, ["current", "still-needed"]);
}

#[tokio::test]
async fn a_rotation_stores_a_new_key_then_retires_every_other_at_now() {
    let new_key = key("ed-new", SigningAlgorithm::EdDsa);
    let generator = generates(new_key.clone());
    let mut repository = MockSigningKeyRepository::new();
    let mut sequence = mockall::Sequence::new();
    let stored = new_key.clone();
    repository
        .expect_insert()
        .times(1)
        .in_sequence(&mut sequence)
        .withf(move |key| *key == stored)
        .returning(|_| Ok(()));
    repository
        .expect_retire_all_except()
        .times(1)
        .in_sequence(&mut sequence)
        .withf(|keep, at| keep == "ed-new" && *at == now())
        .returning(|_, _| Ok(1));

    let rotated =
        crate::rotate_signing_key(&repository, &generator, SigningAlgorithm::EdDsa, now())
            .await
            .unwrap();

    assert_eq!(rotated, new_key);
}
