//! Alert templates: Go's text/template language as Prometheus uses it in
//! alert labels and annotations, with `$labels`, `$value`,
//! `$externalLabels` and `$externalURL` and Prometheus's functions
//! (`humanize`, `query`, `reReplaceAll`, ...). A hand-written engine: the
//! parser in `parse`, execution in `exec`, functions in `functions`.

mod exec;
mod format;
mod functions;
mod humanize;
mod parse;
mod printf;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use exec::TemplateValue;
pub use format::go_float;

/// Go's `%e` with the shortest digits (`6e+01`).
pub fn go_float_e(value: f64) -> String {
    format::go_format_float(value, 'e', None)
}
pub use functions::{TemplateQuery, TemplateSample, expression_link};

/// Why a template did not parse or expand.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// The template text is malformed.
    #[error("{0}")]
    Parse(String),
    /// Running the template failed (a bad call, a failed query).
    #[error("{0}")]
    Execute(String),
}

/// What an alert template sees.
#[derive(Debug, Clone, Default)]
pub struct AlertTemplateData {
    /// `$labels`: the labels of the sample that produced the alert.
    pub labels: BTreeMap<String, String>,
    /// `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL`.
    pub external_url: String,
    /// `$value`: the sample's value.
    pub value: f64,
}

/// A parsed template, reusable across expansions.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: parse::NodeList,
}

impl Template {
    /// Parses `text`; the error is what `promshard check rules` reports.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let nodes = parse::parse(text)?;
        check_variables(&nodes)?;
        Ok(Template { nodes })
    }

    /// Expands the template over `data`; `query` serves the `query`
    /// function (absent: `query` fails).
    pub fn expand(
        &self,
        data: &AlertTemplateData,
        query: Option<TemplateQuery<'_>>,
    ) -> Result<String, TemplateError> {
        let labels = TemplateValue::from_string_map(&data.labels);
        let external_labels = TemplateValue::from_string_map(&data.external_labels);
        let external_url = TemplateValue::Text(data.external_url.clone());
        let value = TemplateValue::Float(data.value);
        let dot = TemplateValue::Map(BTreeMap::from([
            ("Labels".to_string(), labels.clone()),
            ("ExternalLabels".to_string(), external_labels.clone()),
            ("ExternalURL".to_string(), external_url.clone()),
            ("Value".to_string(), value.clone()),
        ]));
        let variables = vec![
            ("$".to_string(), dot.clone()),
            ("$labels".to_string(), labels),
            ("$externalLabels".to_string(), external_labels),
            ("$externalURL".to_string(), external_url),
            ("$value".to_string(), value),
        ];
        let context = functions::FunctionContext {
            external_url: &data.external_url,
            query,
        };
        exec::Executor::new(variables, &context).run(&self.nodes, &dot)
    }
}

/// Expands `text` over `data` in one step.
pub fn expand_template(
    text: &str,
    data: &AlertTemplateData,
    query: Option<TemplateQuery<'_>>,
) -> Result<String, TemplateError> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    Template::parse(text)?.expand(data, query)
}

/// Checks at parse time that every variable used is declared before, in
/// scope, as Go's parser does (`undefined variable "$x"`).
fn check_variables(nodes: &[parse::Node]) -> Result<(), TemplateError> {
    let mut scope: Vec<String> = ["$", "$labels", "$externalLabels", "$externalURL", "$value"]
        .iter()
        .map(|name| name.to_string())
        .collect();
    check_list(nodes, &mut scope)
}

fn check_list(nodes: &[parse::Node], scope: &mut Vec<String>) -> Result<(), TemplateError> {
    for node in nodes {
        match node {
            parse::Node::Action(pipeline) => check_pipeline(pipeline, scope)?,
            parse::Node::Branch {
                pipeline,
                body,
                otherwise,
                ..
            } => {
                let mark = scope.len();
                check_pipeline(pipeline, scope)?;
                check_list(body, scope)?;
                scope.truncate(mark);
                check_list(otherwise, scope)?;
                scope.truncate(mark);
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_pipeline(
    pipeline: &parse::Pipeline,
    scope: &mut Vec<String>,
) -> Result<(), TemplateError> {
    for command in &pipeline.commands {
        for operand in command {
            match operand {
                parse::Operand::Variable(name, _) if !scope.contains(name) => {
                    return Err(TemplateError::Parse(format!("undefined variable {name:?}")));
                }
                parse::Operand::Nested(inner, _) => check_pipeline(inner, scope)?,
                parse::Operand::Function(name)
                    if !functions::FUNCTION_NAMES.contains(&name.as_str()) =>
                {
                    return Err(TemplateError::Parse(format!(
                        "function {name:?} not defined"
                    )));
                }
                _ => {}
            }
        }
    }
    for name in &pipeline.variables {
        if pipeline.is_assignment {
            if !scope.contains(name) {
                return Err(TemplateError::Parse(format!("undefined variable {name:?}")));
            }
        } else {
            scope.push(name.clone());
        }
    }
    Ok(())
}
