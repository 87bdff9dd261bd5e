//! Rebuilds the crate when a migration is added: `embed_migrations!` alone does not
//! notice a new migration folder. Cargo scans a directory given here recursively.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
