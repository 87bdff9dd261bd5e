//! Persistence for Tessera with Diesel: one code path for PostgreSQL (production) and
//! SQLite (embedded default), embedded migrations, and the repositories that
//! implement the application's ports.
//!
//! ```ignore
//! let database = Database::connect("sqlite://data/tessera.db", 8)?;
//! database.run_pending_migrations().await?;
//! let users: Arc<dyn UserRepository> = Arc::new(DieselUserRepository::new(database.clone()));
//! ```

mod audit;
mod connection;
mod database;
mod error;
mod keys;
mod pipelined;
mod prepared;
mod rows;
mod schema;
mod server_secrets;
mod sessions;
mod statistics;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

pub use audit::DieselAuditSink;
pub use connection::Backend;
pub use database::Database;
pub use keys::DieselSigningKeyRepository;
pub use server_secrets::{DieselServerSecrets, TOKEN_PEPPER};
pub use sessions::DieselSessionRepository;
pub use statistics::DieselStatistics;
pub use users::DieselUserRepository;
