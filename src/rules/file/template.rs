//! Template checks for `promshard check rules`: a template must parse as
//! Prometheus parses it (Go's text/template with Prometheus's functions).

/// Parses `template` with the alert-template engine; the error says what
/// Go's parser would (`unclosed action`, `undefined variable "$x"`,
/// `function "f" not defined`).
pub fn check_template(template: &str) -> Result<(), String> {
    crate::rules::template::Template::parse(template)
        .map(|_| ())
        .map_err(|error| error.to_string())
}
