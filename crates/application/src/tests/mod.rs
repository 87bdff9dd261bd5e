//! Unit tests of the use cases, with mockall mocks of every port.

mod admin;
mod authenticate;
mod housekeeping;
mod introspection;
mod keys;
mod login;
mod logout;
mod password;
mod refresh;
mod register;
mod revocation;
mod sessions;
mod support;
mod throttle;
mod values;
