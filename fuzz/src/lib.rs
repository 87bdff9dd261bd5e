//! What the fuzz targets share: fixed keys and the real codecs built from them, the
//! request format of `request_decoding`, and the ports that stand in for the database.
//!
//! Nothing here is deployed; the "secrets" are fixed so that the seed tokens in
//! `fuzz/corpus` verify.

pub mod keys;
pub mod request;
pub mod stand_ins;
