//! HTTP-level tests: placeholder while the suite is written.
