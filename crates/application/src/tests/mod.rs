//! Unit tests of the use cases, with mockall mocks of every port.

mod authenticate;
mod keys;
mod login;
mod logout;
mod refresh;
mod register;
mod support;
mod values;
