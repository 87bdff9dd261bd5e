//! Unit tests of the use cases, with mockall mocks of every port.
