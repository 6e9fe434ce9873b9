//! Executes a parsed template over values: variables and their scopes,
//! field access, truth, control flow and printing as Go's `%v` does.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::TemplateError;
use super::format::go_float;
use super::functions::{FunctionContext, call_function};
use super::parse::{BranchKind, Node, Operand, Pipeline};

/// A value inside a template.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateValue {
    /// `nil`.
    Nil,
    /// A boolean.
    Boolean(bool),
    /// An integer (literals, `len`).
    Integer(i64),
    /// A float (`$value`, sample values).
    Float(f64),
    /// A string.
    Text(String),
    /// A map: labels, `args`, a query sample (`Labels`, `Value`).
    Map(BTreeMap<String, TemplateValue>),
    /// A list: a query result.
    List(Vec<TemplateValue>),
}

impl TemplateValue {
    /// Go's truth: false, 0, nil and empty values are false.
    pub fn is_true(&self) -> bool {
        match self {
            TemplateValue::Nil => false,
            TemplateValue::Boolean(value) => *value,
            TemplateValue::Integer(value) => *value != 0,
            TemplateValue::Float(value) => *value != 0.0,
            TemplateValue::Text(value) => !value.is_empty(),
            TemplateValue::Map(value) => !value.is_empty(),
            TemplateValue::List(value) => !value.is_empty(),
        }
    }

    /// The value printed as Go's `%v`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        match self {
            TemplateValue::Nil => out.push_str("<nil>"),
            TemplateValue::Boolean(value) => {
                let _ = write!(out, "{value}");
            }
            TemplateValue::Integer(value) => {
                let _ = write!(out, "{value}");
            }
            TemplateValue::Float(value) => out.push_str(&go_float(*value)),
            TemplateValue::Text(value) => out.push_str(value),
            TemplateValue::Map(map) => {
                out.push_str("map[");
                for (index, (key, value)) in map.iter().enumerate() {
                    if index > 0 {
                        out.push(' ');
                    }
                    out.push_str(key);
                    out.push(':');
                    value.render_into(out);
                }
                out.push(']');
            }
            TemplateValue::List(list) => {
                out.push('[');
                for (index, value) in list.iter().enumerate() {
                    if index > 0 {
                        out.push(' ');
                    }
                    value.render_into(out);
                }
                out.push(']');
            }
        }
    }

    /// A string map as a template map.
    pub fn from_string_map(map: &BTreeMap<String, String>) -> TemplateValue {
        TemplateValue::Map(
            map.iter()
                .map(|(key, value)| (key.clone(), TemplateValue::Text(value.clone())))
                .collect(),
        )
    }

    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            TemplateValue::Nil => "nil",
            TemplateValue::Boolean(_) => "bool",
            TemplateValue::Integer(_) => "int",
            TemplateValue::Float(_) => "float64",
            TemplateValue::Text(_) => "string",
            TemplateValue::Map(_) => "map",
            TemplateValue::List(_) => "slice",
        }
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

/// The state of one execution: output, variables, functions.
pub struct Executor<'a> {
    variables: Vec<(String, TemplateValue)>,
    functions: &'a FunctionContext<'a>,
    out: String,
    steps: usize,
}

/// Most nodes and range iterations one expansion may run.
const STEP_LIMIT: usize = 1_000_000;

impl<'a> Executor<'a> {
    /// An executor with `variables` predeclared.
    pub fn new(
        variables: Vec<(String, TemplateValue)>,
        functions: &'a FunctionContext<'a>,
    ) -> Self {
        Executor {
            variables,
            functions,
            out: String::new(),
            steps: 0,
        }
    }

    /// Runs `nodes` with `dot` and returns the output.
    pub fn run(mut self, nodes: &[Node], dot: &TemplateValue) -> Result<String, TemplateError> {
        self.run_list(nodes, dot)?;
        Ok(self.out)
    }

    fn run_list(&mut self, nodes: &[Node], dot: &TemplateValue) -> Result<Flow, TemplateError> {
        for node in nodes {
            self.steps += 1;
            if self.steps > STEP_LIMIT {
                return Err(TemplateError::Execute("template ran too long".to_string()));
            }
            match node {
                Node::Text(text) => self.out.push_str(text),
                Node::Action(pipeline) => {
                    let value = self.pipeline(pipeline, dot)?;
                    if pipeline.variables.is_empty() {
                        value.render_into(&mut self.out);
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
                Node::Branch {
                    kind,
                    pipeline,
                    body,
                    otherwise,
                } => {
                    let mark = self.variables.len();
                    let flow = self.branch(*kind, pipeline, body, otherwise, dot);
                    self.variables.truncate(mark);
                    match flow? {
                        Flow::Normal => {}
                        other => return Ok(other),
                    }
                }
            }
        }
        Ok(Flow::Normal)
    }

    fn branch(
        &mut self,
        kind: BranchKind,
        pipeline: &Pipeline,
        body: &[Node],
        otherwise: &[Node],
        dot: &TemplateValue,
    ) -> Result<Flow, TemplateError> {
        match kind {
            BranchKind::If | BranchKind::With => {
                let value = self.pipeline(pipeline, dot)?;
                if value.is_true() {
                    let next_dot = if kind == BranchKind::With {
                        value
                    } else {
                        dot.clone()
                    };
                    self.run_list(body, &next_dot)
                } else {
                    self.run_list(otherwise, dot)
                }
            }
            BranchKind::Range => {
                let declared = Pipeline {
                    variables: Vec::new(),
                    ..pipeline.clone()
                };
                let collection = self.pipeline(&declared, dot)?;
                let items: Vec<(TemplateValue, TemplateValue)> = match collection {
                    TemplateValue::List(list) => list
                        .into_iter()
                        .enumerate()
                        .map(|(index, value)| (TemplateValue::Integer(index as i64), value))
                        .collect(),
                    TemplateValue::Map(map) => map
                        .into_iter()
                        .map(|(key, value)| (TemplateValue::Text(key), value))
                        .collect(),
                    TemplateValue::Integer(count) if count > STEP_LIMIT as i64 => {
                        return Err(TemplateError::Execute(format!(
                            "range over {count} is too long"
                        )));
                    }
                    TemplateValue::Integer(count) => (0..count.max(0))
                        .map(|index| (TemplateValue::Integer(index), TemplateValue::Integer(index)))
                        .collect(),
                    TemplateValue::Nil => Vec::new(),
                    other => {
                        return Err(TemplateError::Execute(format!(
                            "range can't iterate over {}",
                            other.render()
                        )));
                    }
                };
                if items.is_empty() {
                    return self.run_list(otherwise, dot);
                }
                for (key, value) in items {
                    let mark = self.variables.len();
                    match pipeline.variables.as_slice() {
                        [] => {}
                        [element] => self.variables.push((element.clone(), value.clone())),
                        [index, element, ..] => {
                            self.variables.push((index.clone(), key));
                            self.variables.push((element.clone(), value.clone()));
                        }
                    }
                    let flow = self.run_list(body, &value);
                    self.variables.truncate(mark);
                    if let Flow::Break = flow? {
                        break;
                    }
                }
                Ok(Flow::Normal)
            }
        }
    }

    fn pipeline(
        &mut self,
        pipeline: &Pipeline,
        dot: &TemplateValue,
    ) -> Result<TemplateValue, TemplateError> {
        let mut value: Option<TemplateValue> = None;
        for command in &pipeline.commands {
            value = Some(self.command(command, dot, value)?);
        }
        let value = value.unwrap_or(TemplateValue::Nil);
        for name in &pipeline.variables {
            if pipeline.is_assignment {
                match self
                    .variables
                    .iter_mut()
                    .rev()
                    .find(|(known, _)| known == name)
                {
                    Some(slot) => slot.1 = value.clone(),
                    None => {
                        return Err(TemplateError::Execute(format!(
                            "undefined variable: {name}"
                        )));
                    }
                }
            } else {
                self.variables.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn command(
        &mut self,
        command: &[Operand],
        dot: &TemplateValue,
        piped: Option<TemplateValue>,
    ) -> Result<TemplateValue, TemplateError> {
        let Some((head, rest)) = command.split_first() else {
            return Err(TemplateError::Execute("empty command".to_string()));
        };
        if let Operand::Function(name) = head {
            if name == "and" || name == "or" {
                return self.logical(name == "and", rest, dot, piped);
            }
            let mut arguments = Vec::with_capacity(rest.len() + 1);
            for operand in rest {
                arguments.push(self.operand(operand, dot)?);
            }
            if let Some(piped) = piped {
                arguments.push(piped);
            }
            return call_function(self.functions, name, arguments);
        }
        if !rest.is_empty() || piped.is_some() {
            return Err(TemplateError::Execute(format!(
                "can't give argument to non-function {head:?}"
            )));
        }
        self.operand(head, dot)
    }

    fn logical(
        &mut self,
        is_and: bool,
        operands: &[Operand],
        dot: &TemplateValue,
        piped: Option<TemplateValue>,
    ) -> Result<TemplateValue, TemplateError> {
        if operands.is_empty() && piped.is_none() {
            return Err(TemplateError::Execute("wrong number of args".to_string()));
        }
        let mut last = TemplateValue::Nil;
        for operand in operands {
            last = self.operand(operand, dot)?;
            if last.is_true() != is_and {
                return Ok(last);
            }
        }
        if let Some(piped) = piped {
            last = piped;
        }
        Ok(last)
    }

    fn operand(
        &mut self,
        operand: &Operand,
        dot: &TemplateValue,
    ) -> Result<TemplateValue, TemplateError> {
        match operand {
            Operand::Field(fields) => field_chain(dot.clone(), fields),
            Operand::Variable(name, fields) => {
                let value = self
                    .variables
                    .iter()
                    .rev()
                    .find(|(known, _)| known == name)
                    .map(|(_, value)| value.clone())
                    .ok_or_else(|| TemplateError::Execute(format!("undefined variable: {name}")))?;
                field_chain(value, fields)
            }
            Operand::Function(name) => call_function(self.functions, name, Vec::new()),
            Operand::Text(text) => Ok(TemplateValue::Text(text.clone())),
            Operand::Integer(value) => Ok(TemplateValue::Integer(*value)),
            Operand::Float(value) => Ok(TemplateValue::Float(*value)),
            Operand::Boolean(value) => Ok(TemplateValue::Boolean(*value)),
            Operand::Nil => Ok(TemplateValue::Nil),
            Operand::Nested(pipeline, fields) => {
                let value = self.pipeline(pipeline, dot)?;
                field_chain(value, fields)
            }
        }
    }
}

/// `.a.b` on `value`; a missing map key is the zero value (Prometheus sets
/// `missingkey=zero`), a field of a non-map is an error.
fn field_chain(
    mut value: TemplateValue,
    fields: &[String],
) -> Result<TemplateValue, TemplateError> {
    for field in fields {
        value = match value {
            TemplateValue::Map(mut map) => map
                .remove(field)
                .unwrap_or(TemplateValue::Text(String::new())),
            TemplateValue::Nil => TemplateValue::Nil,
            other => {
                return Err(TemplateError::Execute(format!(
                    "can't evaluate field {field} in type {}",
                    other.type_name()
                )));
            }
        };
    }
    Ok(value)
}
