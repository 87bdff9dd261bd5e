//! Activity store, revocation list and throttle counters. In memory for a single node
//! (the default); in Redis (`redis_url`) when several nodes share them.

mod memory;
mod redis;
#[cfg(feature = "testing")]
pub mod testing;
mod throttle;

pub use self::redis::{
    DEFAULT_COMMAND_TIMEOUT, DEFAULT_PREFIX, PAUSE_AFTER_FAILURE, RedisActivityStore,
    RedisConnection, RedisHealth, RedisRevocationList, RedisThrottleStore, check_redis_prefix,
    check_redis_url,
};
pub use memory::{MemoryActivityStore, MemoryRevocationList};
pub use throttle::{DEFAULT_MAX_RECORDS, MemoryThrottleStore};
