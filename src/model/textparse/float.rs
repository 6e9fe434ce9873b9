//! Float and timestamp parsing with Go's `strconv` semantics.
