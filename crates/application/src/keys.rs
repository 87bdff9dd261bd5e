//! Signing keys: make sure one of the configured algorithm exists at start-up,
//! rotate them (`tessera keys rotate`), and choose the set that still verifies.

use tessera_domain::{Instant, SessionPolicy, TimeDelta};

use crate::ports::{SigningKeyGenerator, SigningKeyRepository};
use crate::{Error, SigningAlgorithm, SigningKey};

/// Returns every stored signing key, newest first, after adding one of `algorithm`
/// if none exists. Keys live in the database so every node signs and verifies with
/// the same set; two nodes starting at once may both add one, which is harmless
/// (each verifies the other's tokens).
///
/// # Errors
/// Infrastructure errors, or a key that cannot be generated.
pub async fn ensure_signing_key(
    repository: &dyn SigningKeyRepository,
    generator: &dyn SigningKeyGenerator,
    algorithm: SigningAlgorithm,
    now: Instant,
) -> Result<Vec<SigningKey>, Error> {
    let keys = repository.list().await?;
    if keys
        .iter()
        .any(|key| key.algorithm == algorithm && key.retired_at.is_none())
    {
        return Ok(keys);
    }
    let key = generator.generate(algorithm, now)?;
    repository.insert(&key).await?;
    tracing::info!(kid = %key.kid, alg = algorithm.as_str(), "signing key created");
    let mut keys = keys;
    keys.insert(0, key);
    Ok(keys)
}

/// Adds a new signing key of `algorithm` and retires every other key at `now`: new
/// tokens are signed with the new key once nodes reload their key set; tokens the
/// retired keys signed keep verifying until they expire (see
/// [`verification_keys`]). Returns the new key.
///
/// # Errors
/// Infrastructure errors, or a key that cannot be generated.
pub async fn rotate_signing_key(
    repository: &dyn SigningKeyRepository,
    generator: &dyn SigningKeyGenerator,
    algorithm: SigningAlgorithm,
    now: Instant,
) -> Result<SigningKey, Error> {
    let key = generator.generate(algorithm, now)?;
    repository.insert(&key).await?;
    let retired = repository.retire_all_except(&key.kid, now).await?;
    tracing::info!(kid = %key.kid, alg = algorithm.as_str(), retired, "signing key rotated");
    Ok(key)
}

/// The stored keys that can still verify a live access token at `now`, newest first:
/// every key not retired, and retired keys until
/// [`SessionPolicy::retired_key_still_verifies`] says no token of theirs is live.
///
/// # Errors
/// Only infrastructure errors.
pub async fn verification_keys(
    repository: &dyn SigningKeyRepository,
    policy: &SessionPolicy,
    clock_leeway: TimeDelta,
    now: Instant,
) -> Result<Vec<SigningKey>, Error> {
    Ok(keys_still_verifying(
        repository.list().await?,
        policy,
        clock_leeway,
        now,
    ))
}

/// The pure part of [`verification_keys`].
pub fn keys_still_verifying(
    keys: Vec<SigningKey>,
    policy: &SessionPolicy,
    clock_leeway: TimeDelta,
    now: Instant,
) -> Vec<SigningKey> {
    keys.into_iter()
        .filter(|key| {
            key.retired_at
                .is_none_or(|retired| policy.retired_key_still_verifies(retired, clock_leeway, now))
        })
        .collect()
}

impl crate::AuthService {
    /// The keys a resource server may use to verify access tokens on its own
    /// (`/.well-known/jwks.json`). Only asymmetric keys, whatever the codec answers:
    /// publishing an HS256 secret would let anyone mint tokens.
    pub fn public_signing_keys(&self) -> Vec<crate::PublicSigningKey> {
        self.ports
            .access_tokens
            .public_keys()
            .into_iter()
            .filter(|key| key.algorithm.is_asymmetric())
            .collect()
    }
}
