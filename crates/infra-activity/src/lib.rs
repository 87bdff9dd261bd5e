//! Activity store and revocation list adapters. In-memory for a single node (the
//! default); a Redis adapter for several nodes comes with multi-node support.

mod memory;

pub use memory::{MemoryActivityStore, MemoryRevocationList};
