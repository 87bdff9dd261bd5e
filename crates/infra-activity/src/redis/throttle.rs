//! Throttle counters in Redis, so a client spread over N nodes gets the limits once,
//! not N times. A record is `<expiry ms>|<state>` under a key that Redis expires at the
//! same time; the compare-and-swap is one Lua script, so it is atomic across nodes.

use ::redis::Script;
use async_trait::async_trait;
use tessera_application::Error;
use tessera_application::ports::{ThrottleRecord, ThrottleStore};
use tessera_domain::{BucketState, FailedLogins, Instant};

use super::{RedisConnection, millis};

/// `KEYS[1]` the record; `ARGV[1]` the expected state (`''`: none), `ARGV[2]` the new
/// record, `ARGV[3]` its time to live in ms (`<= 0`: it is expired already, so the key
/// is removed), `ARGV[4]` now in ms. A stored record whose expiry is not after now
/// counts as none, as in memory.
const COMPARE_AND_SWAP: &str = r"
local current = redis.call('GET', KEYS[1])
local state = ''
if current then
  local bar = string.find(current, '|', 1, true)
  if bar and tonumber(string.sub(current, 1, bar - 1)) > tonumber(ARGV[4]) then
    state = string.sub(current, bar + 1)
  end
end
if state ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1
";

/// Throttle records in Redis.
pub struct RedisThrottleStore {
    connection: RedisConnection,
    compare_and_swap: Script,
}

impl std::fmt::Debug for RedisThrottleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisThrottleStore")
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl RedisThrottleStore {
    pub fn new(connection: RedisConnection) -> Self {
        Self {
            connection,
            compare_and_swap: Script::new(COMPARE_AND_SWAP),
        }
    }

    fn key(&self, key: &str) -> String {
        self.connection.key("throttle", key)
    }
}

#[async_trait]
impl ThrottleStore for RedisThrottleStore {
    async fn get(&self, key: &str, now: Instant) -> Result<Option<ThrottleRecord>, Error> {
        let stored: Option<String> = self
            .connection
            .query(::redis::cmd("GET").arg(self.key(key)))
            .await?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let (expires_at, state) = stored
            .split_once('|')
            .ok_or_else(|| Error::unexpected("redis holds a malformed throttle record"))?;
        let expires_at: i64 = expires_at
            .parse()
            .map_err(|_| Error::unexpected("redis holds a malformed throttle expiry"))?;
        if expires_at <= millis(now) {
            return Ok(None);
        }
        decode(state).map(Some)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<ThrottleRecord>,
        new: ThrottleRecord,
        expires_at: Instant,
        now: Instant,
    ) -> Result<bool, Error> {
        let expected = expected.map(encode).transpose()?.unwrap_or_default();
        let record = format!("{}|{}", millis(expires_at), encode(new)?);
        let key = self.key(key);
        let mut invocation = self.compare_and_swap.prepare_invoke();
        invocation
            .key(&key)
            .arg(expected)
            .arg(record)
            .arg(millis(expires_at) - millis(now))
            .arg(millis(now));
        let swapped: i64 = self.connection.invoke(&invocation).await?;
        Ok(swapped == 1)
    }

    async fn remove(&self, key: &str) -> Result<(), Error> {
        let _: i64 = self
            .connection
            .query(::redis::cmd("DEL").arg(self.key(key)))
            .await?;
        Ok(())
    }
}

/// `b:<tokens>:<updated_at ns>:<0|1>` or `f:<failures>:<last failure ns>:<0|1>`:
/// exact, so the script can compare states as strings.
fn encode(record: ThrottleRecord) -> Result<String, Error> {
    let (tag, count, at, refusing) = match record {
        ThrottleRecord::Bucket(state) => ("b", state.tokens, state.updated_at, state.refusing),
        ThrottleRecord::FailedLogins(state) => {
            ("f", state.failures, state.last_failure_at, state.refusing)
        }
    };
    let nanos = at
        .timestamp_nanos_opt()
        .ok_or_else(|| Error::unexpected("throttle instant out of range"))?;
    Ok(format!("{tag}:{count}:{nanos}:{}", u8::from(refusing)))
}

fn decode(state: &str) -> Result<ThrottleRecord, Error> {
    let malformed = || Error::unexpected("redis holds a malformed throttle state");
    let mut parts = state.split(':');
    let (Some(tag), Some(count), Some(nanos), Some(refusing), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed());
    };
    let count: u32 = count.parse().map_err(|_| malformed())?;
    let at = Instant::from_timestamp_nanos(nanos.parse().map_err(|_| malformed())?);
    let refusing = match refusing {
        "0" => false,
        "1" => true,
        _ => return Err(malformed()),
    };
    match tag {
        "b" => Ok(ThrottleRecord::Bucket(BucketState {
            tokens: count,
            updated_at: at,
            refusing,
        })),
        "f" => Ok(ThrottleRecord::FailedLogins(FailedLogins {
            failures: count,
            last_failure_at: at,
            refusing,
        })),
        _ => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn records_round_trip_exactly() {
        let at = Utc
            .timestamp_opt(1_700_000_000, 123_456_789)
            .single()
            .unwrap();
        for record in [
            ThrottleRecord::Bucket(BucketState {
                tokens: 7,
                updated_at: at,
                refusing: true,
            }),
            ThrottleRecord::FailedLogins(FailedLogins {
                failures: 3,
                last_failure_at: at,
                refusing: false,
            }),
        ] {
            assert_eq!(decode(&encode(record).unwrap()).unwrap(), record);
        }
        assert!(decode("b:1:2").is_err());
        assert!(decode("x:1:2:0").is_err());
    }
}
