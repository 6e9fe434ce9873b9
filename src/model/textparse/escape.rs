//! Unescaping of label values and HELP text.
