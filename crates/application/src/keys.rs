//! Start-up use case: make sure a signing key of the configured algorithm exists.

use tessera_domain::Instant;

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
    if keys.iter().any(|key| key.algorithm == algorithm) {
        return Ok(keys);
    }
    let key = generator.generate(algorithm, now)?;
    repository.insert(&key).await?;
    tracing::info!(kid = %key.kid, alg = algorithm.as_str(), "signing key created");
    let mut keys = keys;
    keys.insert(0, key);
    Ok(keys)
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
