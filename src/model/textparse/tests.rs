//! Unit tests of the parsers.
