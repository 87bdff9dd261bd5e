//! The real clock and random identifiers: the only places the application's time and
//! ids come from in production.

use tessera_application::ports::{Clock, IdGenerator};
use tessera_domain::{Instant, SessionId, UserId};
use uuid::Uuid;

/// [`Clock`] reading the system's UTC wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // This adapter is the one place that reads the clock (STYLE.md habit 2).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Instant {
        chrono::Utc::now()
    }
}

/// [`IdGenerator`]: UUID v7 for users and sessions, so rows and listings sort by
/// creation time and indexes stay local; UUID v4 for `jti`, which has nothing to sort.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    // This adapter is the one place that makes random ids (STYLE.md habit 2).
    #[allow(clippy::disallowed_methods)]
    fn user_id(&self) -> UserId {
        UserId::from_uuid(Uuid::now_v7())
    }

    #[allow(clippy::disallowed_methods)]
    fn session_id(&self) -> SessionId {
        SessionId::from_uuid(Uuid::now_v7())
    }

    #[allow(clippy::disallowed_methods)]
    fn token_id(&self) -> Uuid {
        Uuid::new_v4()
    }
}
