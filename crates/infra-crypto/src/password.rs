//! Password hashing with Argon2id on a few dedicated, low-priority threads
//! (`hashing_threads`), behind a semaphore so a login flood waits its turn (then gets
//! `Unavailable`) instead of starving the async workers or the other endpoints; unknown
//! accounts cost the same work as wrong passwords.

mod hashing_threads;

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{self, PasswordHashString, PasswordHasher as _};
use argon2::password_hash::{PasswordHash as PhcHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use rand_core::{OsRng, RngCore};
use tessera_application::Error;
use tessera_application::ports::{PasswordCheck, PasswordHasher};
use tessera_domain::{InvalidSetting, Password, PasswordHash};
use tokio::sync::{Semaphore, oneshot};

use self::hashing_threads::HashingThreads;

/// Argon2id cost parameters. `Default` is OWASP's recommendation (m = 19 MiB, t = 2,
/// p = 1), which is also `argon2`'s default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

impl Argon2Params {
    fn to_params(self) -> Result<Params, InvalidSetting> {
        // `Params::new` multiplies `parallelism * 8` unchecked: bound it first.
        if !(Params::MIN_P_COST..=Params::MAX_P_COST).contains(&self.parallelism) {
            return Err(InvalidSetting::new(
                "password_hash_parallelism",
                format!("must be between 1 and {}", Params::MAX_P_COST),
            ));
        }
        Params::new(self.memory_kib, self.iterations, self.parallelism, None).map_err(|error| {
            InvalidSetting::new("password_hash_params", format!("are invalid: {error}"))
        })
    }
}

/// How hard and how many at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashingSettings {
    pub params: Argon2Params,
    /// Hashes running at once; each holds `memory_kib` of memory. One more may run
    /// while these are starved of CPU (`hashing_threads`: the rescuer).
    pub max_concurrent: usize,
    /// How long a request waits for a free slot before it is refused as `Unavailable`.
    pub max_wait: Duration,
}

impl Default for PasswordHashingSettings {
    /// OWASP parameters, one hash per CPU, up to 3 s in the queue.
    fn default() -> Self {
        Self {
            params: Argon2Params::default(),
            max_concurrent: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            max_wait: Duration::from_secs(3),
        }
    }
}

/// How much longer than `max_wait` a caller waits for a hash once it has a slot. A hash
/// takes well under a second; this is for one starved of CPU.
const HASH_GRACE: Duration = Duration::from_secs(5);

/// [`PasswordHasher`] with Argon2id v1.3 and PHC strings.
#[derive(Clone)]
pub struct Argon2PasswordHasher {
    inner: Arc<Inner>,
    permits: Arc<Semaphore>,
    workers: Arc<HashingThreads>,
    settings: PasswordHashingSettings,
}

impl Argon2PasswordHasher {
    /// Computes the dummy hash for unknown accounts now, once (one hash of work:
    /// call it at start-up, not on a request path).
    ///
    /// # Errors
    /// `InvalidSetting` on `password_hash_params`, `password_hash_parallelism` or
    /// `password_hash_concurrency` when a value is out of range.
    pub fn new(settings: PasswordHashingSettings) -> Result<Self, InvalidSetting> {
        let params = settings.params.to_params()?;
        // One permit more than idle-policy threads, for the rescuer.
        let most = Semaphore::MAX_PERMITS - 1;
        if settings.max_concurrent == 0 || settings.max_concurrent > most {
            return Err(InvalidSetting::new(
                "password_hash_concurrency",
                format!("must be between 1 and {most}"),
            ));
        }
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut unguessable = [0_u8; 32];
        OsRng.fill_bytes(&mut unguessable);
        let dummy = hash_with(&argon2, &unguessable)
            .map_err(|error| InvalidSetting::new("password_hash_params", error.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner { argon2, dummy }),
            permits: Arc::new(Semaphore::new(settings.max_concurrent + 1)),
            workers: Arc::new(HashingThreads::start(
                settings.max_concurrent,
                release_argon2_memory,
            )),
            settings,
        })
    }

    /// Runs `work` on a hashing thread once a slot is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let acquire = Arc::clone(&self.permits).acquire_owned();
        let permit = match tokio::time::timeout(self.settings.max_wait, acquire).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return Err(Error::Unexpected(Box::new(closed))),
            Err(_elapsed) => {
                tracing::warn!("password hashing pool saturated; request refused");
                return Err(Error::Unavailable("password hashing pool saturated".into()));
            }
        };
        let inner = Arc::clone(&self.inner);
        let (answer, answered) = oneshot::channel();
        self.workers.submit(Box::new(move || {
            // Held until the hash is done, even if the caller has gone away.
            let _permit = permit;
            // The caller may have gone away: nobody to tell then.
            let _ = answer.send(work(&inner));
        }))?;
        // A hash that started on an idle-policy thread just before other work took
        // every CPU may wait for it to pass (`hashing_threads`): the caller does not.
        match tokio::time::timeout(self.settings.max_wait + HASH_GRACE, answered).await {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(_)) => Err(Error::unexpected("a password hashing thread stopped")),
            Err(_elapsed) => {
                tracing::warn!("password hash starved of CPU; request refused");
                Err(Error::Unavailable("password hash starved of CPU".into()))
            }
        }
    }
}

impl fmt::Debug for Argon2PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2PasswordHasher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl PasswordHasher for Argon2PasswordHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        let password = password.clone();
        self.run(move |inner| hash_with(&inner.argon2, password.expose().as_bytes()))
            .await?
            .map(|phc| PasswordHash::new(phc.to_string()))
            .map_err(|error| Error::unexpected(format!("password hashing failed: {error}")))
    }

    async fn verify(
        &self,
        password: &Password,
        hash: Option<PasswordHash>,
    ) -> Result<PasswordCheck, Error> {
        let password = password.clone();
        self.run(move |inner| {
            inner.check(
                password.expose().as_bytes(),
                hash.as_ref().map(PasswordHash::as_str),
            )
        })
        .await
    }
}

struct Inner {
    argon2: Argon2<'static>,
    /// The hash of a random secret, verified against when the account is unknown.
    dummy: PasswordHashString,
}

impl Inner {
    fn check(&self, password: &[u8], stored: Option<&str>) -> PasswordCheck {
        let Some(stored) = stored else {
            self.spend_equal_work(password);
            return PasswordCheck::Mismatch;
        };
        let parsed = match verifiable(stored) {
            Ok(parsed) => parsed,
            Err(reason) => {
                // Refused like a wrong password, after the same work, and logged: a
                // broken stored hash locks its user out until an operator acts.
                tracing::warn!(reason, "stored password hash cannot be used");
                self.spend_equal_work(password);
                return PasswordCheck::Mismatch;
            }
        };
        match verify_reusing_memory(password, &parsed) {
            Ok(()) if self.is_current(&parsed) => PasswordCheck::Match,
            Ok(()) => PasswordCheck::MatchNeedsRehash,
            Err(password_hash::Error::Password) => PasswordCheck::Mismatch,
            Err(error) => {
                tracing::warn!(%error, "stored password hash cannot be verified");
                PasswordCheck::Mismatch
            }
        }
    }

    /// The work of a real check, for a result that is thrown away.
    fn spend_equal_work(&self, password: &[u8]) {
        // The dummy's password is 32 random bytes nobody knows: the outcome is moot.
        let _ = verify_reusing_memory(password, &self.dummy.password_hash());
    }

    /// Whether `parsed` was made with exactly the configured algorithm, version and
    /// parameters (a stored hash stronger than the configuration is rehashed too).
    fn is_current(&self, parsed: &PhcHash<'_>) -> bool {
        let configured = self.argon2.params();
        let algorithm_ok = Algorithm::try_from(parsed.algorithm) == Ok(Algorithm::Argon2id);
        // A PHC string without `v=` is verified as the default version.
        let version = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from);
        let Ok(params) = Params::try_from(parsed) else {
            return false;
        };
        let output_len =
            |params: &Params| params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        algorithm_ok
            && version == Ok(Version::V0x13)
            && params.m_cost() == configured.m_cost()
            && params.t_cost() == configured.t_cost()
            && params.p_cost() == configured.p_cost()
            && output_len(&params) == output_len(configured)
    }
}

/// Argon2 working memories (19 MiB each with the default parameters) kept between
/// hashes, at most one per hash running at once: allocating one per hash cost a page
/// fault per 4 KiB and its zeroing — a quarter of a login's CPU (docs/performance.md).
/// The hashing threads empty it after 10 s without work (`hashing_threads`).
static ARGON2_MEMORY: Mutex<Vec<Vec<argon2::Block>>> = Mutex::new(Vec::new());

fn release_argon2_memory() {
    ARGON2_MEMORY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
}

/// Runs `work` with a working memory of at least `blocks` blocks, taken from the pool
/// and put back after.
fn with_argon2_memory<T>(blocks: usize, work: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    let pool = || {
        ARGON2_MEMORY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let mut memory = pool().pop().unwrap_or_default();
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    let result = work(&mut memory[..blocks]);
    pool().push(memory);
    result
}

/// What `PasswordVerifier::verify_password` does — recompute the output with the
/// stored algorithm, version, parameters and salt, and compare in constant time
/// (`Output`'s `==`) — in a working memory from [`ARGON2_MEMORY`] instead of a fresh
/// allocation.
fn verify_reusing_memory(
    password: &[u8],
    parsed: &PhcHash<'_>,
) -> Result<(), password_hash::Error> {
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(password_hash::Error::Password);
    };
    let algorithm = Algorithm::try_from(parsed.algorithm)?;
    let version = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)?;
    let params = Params::try_from(parsed)?;
    let mut salt_buffer = [0_u8; password_hash::Salt::MAX_LENGTH];
    let salt = salt.decode_b64(&mut salt_buffer)?;
    let mut output = vec![0_u8; expected.len()];
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    with_argon2_memory(blocks, |memory| {
        argon2.hash_password_into_with_memory(password, salt, &mut output, memory)
    })?;
    if password_hash::Output::new(&output)? == *expected {
        Ok(())
    } else {
        Err(password_hash::Error::Password)
    }
}

/// Parses `stored`, refusing what `verify_password` would refuse before doing its work
/// (so the caller can spend that work on the dummy instead).
/// Checks that `phc` is an Argon2id PHC string the hasher can verify against (for
/// settings that carry hashes, such as client secrets).
///
/// # Errors
/// Why it cannot be used.
pub fn check_argon2id_hash(phc: &str) -> Result<(), &'static str> {
    let parsed = verifiable(phc)?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err("not an Argon2id hash");
    }
    Ok(())
}

/// A new random secret: 32 bytes from the OS CSPRNG, base64url without padding.
pub fn generate_client_secret() -> String {
    use base64::Engine as _;
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn verifiable(stored: &str) -> Result<PhcHash<'_>, &'static str> {
    let parsed = PhcHash::new(stored).map_err(|_| "not a PHC string")?;
    Algorithm::try_from(parsed.algorithm).map_err(|_| "not an Argon2 hash")?;
    if let Some(version) = parsed.version {
        Version::try_from(version).map_err(|_| "unknown Argon2 version")?;
    }
    Params::try_from(&parsed).map_err(|_| "invalid Argon2 parameters")?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("no salt or no output");
    }
    Ok(parsed)
}

fn hash_with(
    argon2: &Argon2<'_>,
    password: &[u8],
) -> Result<PasswordHashString, password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2.hash_password(password, &salt)?.serialize())
}
