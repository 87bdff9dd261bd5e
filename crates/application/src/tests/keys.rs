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
