//! The parser of Go's text/template language: text, actions with
//! pipelines, variables, `if`/`else`/`range`/`with`/`end`, comments and the
//! `{{-`/`-}}` trim markers.

use super::TemplateError;

/// A parsed template: a list of nodes.
pub type NodeList = Vec<Node>;

/// One node of the parse tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Literal text.
    Text(String),
    /// `{{ pipeline }}`: prints the result unless it declares a variable.
    Action(Pipeline),
    /// `{{ if }}`, `{{ with }}` or `{{ range }}` with a body and an else.
    Branch {
        /// Which control structure.
        kind: BranchKind,
        /// The condition or the collection.
        pipeline: Pipeline,
        /// Runs when the condition holds (for each element in a range).
        body: NodeList,
        /// Runs otherwise (an empty range).
        otherwise: NodeList,
    },
    /// `{{ break }}` inside a range.
    Break,
    /// `{{ continue }}` inside a range.
    Continue,
}

/// The kinds of control structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchKind {
    /// `if`.
    If,
    /// `with`.
    With,
    /// `range`.
    Range,
}

/// `$x := cmd | cmd ...`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pipeline {
    /// Variables declared (`:=`) or assigned (`=`).
    pub variables: Vec<String>,
    /// True for `=` (assignment to an existing variable).
    pub is_assignment: bool,
    /// The commands; each one's result is the last argument of the next.
    pub commands: Vec<Vec<Operand>>,
}

/// An argument or the head of a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `.` with fields (`.Labels.job`); no fields is dot itself.
    Field(Vec<String>),
    /// `$name` with fields.
    Variable(String, Vec<String>),
    /// A function name.
    Function(String),
    /// A string literal.
    Text(String),
    /// An integer literal.
    Integer(i64),
    /// A floating-point literal.
    Float(f64),
    /// `true` or `false`.
    Boolean(bool),
    /// `nil`.
    Nil,
    /// `( pipeline )` with fields.
    Nested(Box<Pipeline>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Identifier(String),
    Fields(Vec<String>),
    Variable(String, Vec<String>),
    Text(String),
    Number(String),
    Pipe,
    Open,
    Close,
    Declare,
    Assign,
    Comma,
}

/// How deep control structures and parentheses may nest (a bound on the
/// recursion of parsing and execution).
const MAX_NESTING: usize = 100;

/// Parses `text` into a node list.
pub fn parse(text: &str) -> Result<NodeList, TemplateError> {
    let actions = split_actions(text)?;
    let mut position = 0;
    let (nodes, terminator) = parse_list(&actions, &mut position, 0)?;
    match terminator {
        None => Ok(nodes),
        Some(keyword) => Err(TemplateError::Parse(format!(
            "unexpected {{{{{keyword}}}}}"
        ))),
    }
}

/// A piece of the template: text or the inside of an action.
enum Piece {
    Text(String),
    Action(String),
}

fn split_actions(text: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut trim_next_text = false;
    while let Some(open) = rest.find("{{") {
        let mut before = &rest[..open];
        if trim_next_text {
            before = before.trim_start();
        }
        let mut inside = &rest[open + 2..];
        let trim_left = inside.starts_with("- ")
            || inside.starts_with("-\t")
            || inside.starts_with("-\n")
            || inside.starts_with("-\r");
        if trim_left {
            before = before.trim_end();
            inside = &inside[1..];
        }
        if !before.is_empty() {
            pieces.push(Piece::Text(before.to_string()));
        }
        let close = find_close(inside)
            .ok_or_else(|| TemplateError::Parse("unclosed action".to_string()))?;
        let mut action = &inside[..close];
        trim_next_text = false;
        if action.ends_with(" -")
            || action.ends_with("\t-")
            || action.ends_with("\n-")
            || action.ends_with("\r-")
        {
            action = &action[..action.len() - 1];
            trim_next_text = true;
        }
        pieces.push(Piece::Action(action.trim().to_string()));
        rest = &inside[close + 2..];
    }
    let last = if trim_next_text {
        rest.trim_start()
    } else {
        rest
    };
    if !last.is_empty() {
        pieces.push(Piece::Text(last.to_string()));
    }
    Ok(pieces)
}

/// The position of the `}}` that ends an action, skipping quoted text.
fn find_close(inside: &str) -> Option<usize> {
    let bytes = inside.as_bytes();
    let mut index = 0;
    let mut quote: Option<u8> = None;
    while index < bytes.len() {
        let byte = bytes[index];
        match quote {
            Some(open) => {
                if byte == b'\\' && open != b'`' {
                    index += 1;
                } else if byte == open {
                    quote = None;
                }
            }
            None if byte == b'"' || byte == b'`' || byte == b'\'' => quote = Some(byte),
            None if byte == b'}' && bytes.get(index + 1) == Some(&b'}') => return Some(index),
            None => {}
        }
        index += 1;
    }
    None
}

/// Parses nodes until `end`/`else` (returned as the terminator) or the end.
fn parse_list(
    pieces: &[Piece],
    position: &mut usize,
    depth: usize,
) -> Result<(NodeList, Option<String>), TemplateError> {
    if depth > MAX_NESTING {
        return Err(TemplateError::Parse(format!(
            "control structures nested deeper than {MAX_NESTING}"
        )));
    }
    let mut nodes = Vec::new();
    while let Some(piece) = pieces.get(*position) {
        *position += 1;
        let action = match piece {
            Piece::Text(text) => {
                nodes.push(Node::Text(text.clone()));
                continue;
            }
            Piece::Action(action) => action.as_str(),
        };
        if action.starts_with("/*") {
            if !action.ends_with("*/") {
                return Err(TemplateError::Parse("unclosed comment".to_string()));
            }
            continue;
        }
        let (keyword, rest) = match action.find(|c: char| c.is_whitespace()) {
            Some(split) => (&action[..split], action[split..].trim()),
            None => (action, ""),
        };
        match keyword {
            "end" if depth > 0 => return Ok((nodes, Some("end".to_string()))),
            "else" if depth > 0 => {
                return Ok((nodes, Some(format!("else {rest}").trim().to_string())));
            }
            "end" | "else" => {
                return Err(TemplateError::Parse(format!(
                    "unexpected {{{{{keyword}}}}}"
                )));
            }
            "if" | "with" | "range" => {
                let kind = match keyword {
                    "if" => BranchKind::If,
                    "with" => BranchKind::With,
                    _ => BranchKind::Range,
                };
                nodes.push(parse_branch(kind, rest, pieces, position, depth)?);
            }
            "break" if depth > 0 => nodes.push(Node::Break),
            "continue" if depth > 0 => nodes.push(Node::Continue),
            "define" | "template" | "block" => {
                return Err(TemplateError::Parse(format!(
                    "{{{{{keyword}}}}} is not supported in alert templates"
                )));
            }
            _ => nodes.push(Node::Action(parse_pipeline(action)?)),
        }
    }
    Ok((nodes, None))
}

fn parse_branch(
    kind: BranchKind,
    condition: &str,
    pieces: &[Piece],
    position: &mut usize,
    depth: usize,
) -> Result<Node, TemplateError> {
    if condition.is_empty() {
        return Err(TemplateError::Parse(
            "missing value for command".to_string(),
        ));
    }
    let pipeline = parse_pipeline(condition)?;
    let (body, terminator) = parse_list(pieces, position, depth + 1)?;
    let otherwise = match terminator.as_deref() {
        Some("end") => Vec::new(),
        Some("else") => {
            let (otherwise, terminator) = parse_list(pieces, position, depth + 1)?;
            if terminator.as_deref() != Some("end") {
                return Err(TemplateError::Parse("expected {{end}}".to_string()));
            }
            otherwise
        }
        Some(chained) if chained.starts_with("else ") => {
            // `{{else if x}}` is `{{else}}{{if x}}...{{end}}` sharing the end.
            let rest = chained["else ".len()..].trim();
            let (nested_keyword, nested_condition) = match rest.find(char::is_whitespace) {
                Some(split) => (&rest[..split], rest[split..].trim()),
                None => (rest, ""),
            };
            let nested_kind = match nested_keyword {
                "if" => BranchKind::If,
                "with" => BranchKind::With,
                _ => {
                    return Err(TemplateError::Parse(format!(
                        "unexpected {{{{{chained}}}}}"
                    )));
                }
            };
            vec![parse_branch(
                nested_kind,
                nested_condition,
                pieces,
                position,
                depth + 1,
            )?]
        }
        _ => return Err(TemplateError::Parse("unexpected EOF".to_string())),
    };
    Ok(Node::Branch {
        kind,
        pipeline,
        body,
        otherwise,
    })
}

fn lex(action: &str) -> Result<Vec<(Token, bool)>, TemplateError> {
    let characters: Vec<char> = action.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    let mut spaced = true;
    let error = |message: String| Err(TemplateError::Parse(message));
    while index < characters.len() {
        let character = characters[index];
        if character.is_whitespace() {
            spaced = true;
            index += 1;
            continue;
        }
        let start = index;
        let token = match character {
            '|' => {
                index += 1;
                Token::Pipe
            }
            '(' => {
                index += 1;
                Token::Open
            }
            ')' => {
                index += 1;
                Token::Close
            }
            ',' => {
                index += 1;
                Token::Comma
            }
            ':' if characters.get(index + 1) == Some(&'=') => {
                index += 2;
                Token::Declare
            }
            '=' => {
                index += 1;
                Token::Assign
            }
            '"' => {
                let mut value = String::new();
                index += 1;
                loop {
                    match characters.get(index) {
                        None => return error("unterminated quoted string".to_string()),
                        Some('"') => break,
                        Some('\\') => {
                            index += 1;
                            match characters.get(index) {
                                Some('n') => value.push('\n'),
                                Some('t') => value.push('\t'),
                                Some('r') => value.push('\r'),
                                Some('\\') => value.push('\\'),
                                Some('"') => value.push('"'),
                                Some('\'') => value.push('\''),
                                Some(other) => {
                                    value.push('\\');
                                    value.push(*other);
                                }
                                None => return error("unterminated quoted string".to_string()),
                            }
                        }
                        Some(other) => value.push(*other),
                    }
                    index += 1;
                }
                index += 1;
                Token::Text(value)
            }
            '`' => {
                index += 1;
                let begin = index;
                while characters.get(index).is_some_and(|c| *c != '`') {
                    index += 1;
                }
                if index >= characters.len() {
                    return error("unterminated raw quoted string".to_string());
                }
                index += 1;
                Token::Text(characters[begin..index - 1].iter().collect())
            }
            '\'' => {
                let Some(value) = characters.get(index + 1) else {
                    return error("unterminated character constant".to_string());
                };
                if characters.get(index + 2) != Some(&'\'') {
                    return error("malformed character constant".to_string());
                }
                index += 3;
                Token::Number((*value as u32).to_string())
            }
            '$' => {
                index += 1;
                let name = take_identifier(&characters, &mut index);
                let fields = take_fields(&characters, &mut index)?;
                Token::Variable(format!("${name}"), fields)
            }
            '.' if characters
                .get(index + 1)
                .is_none_or(|c| !c.is_ascii_digit()) =>
            {
                if characters
                    .get(index + 1)
                    .is_some_and(|c| c.is_alphabetic() || *c == '_')
                {
                    Token::Fields(take_fields(&characters, &mut index)?)
                } else {
                    index += 1;
                    Token::Fields(Vec::new())
                }
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                while characters.get(index).is_some_and(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')
                }) {
                    let previous = characters[index];
                    index += 1;
                    // A sign only continues a number after an exponent.
                    if let Some(next) = characters.get(index)
                        && matches!(next, '-' | '+')
                        && !matches!(previous, 'e' | 'E')
                    {
                        break;
                    }
                }
                Token::Number(characters[start..index].iter().collect())
            }
            c if c.is_alphabetic() || c == '_' => {
                let name = take_identifier(&characters, &mut index);
                Token::Identifier(name)
            }
            other => return error(format!("unexpected {other:?} in command")),
        };
        tokens.push((token, spaced));
        spaced = false;
    }
    Ok(tokens)
}

fn take_identifier(characters: &[char], index: &mut usize) -> String {
    let begin = *index;
    while characters
        .get(*index)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        *index += 1;
    }
    characters[begin..*index].iter().collect()
}

fn take_fields(characters: &[char], index: &mut usize) -> Result<Vec<String>, TemplateError> {
    let mut fields = Vec::new();
    while characters.get(*index) == Some(&'.')
        && characters
            .get(*index + 1)
            .is_some_and(|c| c.is_alphabetic() || *c == '_')
    {
        *index += 1;
        fields.push(take_identifier(characters, index));
    }
    Ok(fields)
}

/// Parses the inside of an action as a pipeline.
pub fn parse_pipeline(action: &str) -> Result<Pipeline, TemplateError> {
    let tokens = lex(action)?;
    let mut nesting: usize = 0;
    for (token, _) in &tokens {
        match token {
            Token::Open => nesting += 1,
            Token::Close => nesting = nesting.saturating_sub(1),
            _ => {}
        }
        if nesting > MAX_NESTING {
            return Err(TemplateError::Parse(format!(
                "parentheses nested deeper than {MAX_NESTING}"
            )));
        }
    }
    let mut position = 0;
    let pipeline = pipeline_from_tokens(&tokens, &mut position)?;
    if position < tokens.len() {
        return Err(TemplateError::Parse(format!(
            "unexpected {:?} in operand",
            tokens[position].0
        )));
    }
    Ok(pipeline)
}

fn pipeline_from_tokens(
    tokens: &[(Token, bool)],
    position: &mut usize,
) -> Result<Pipeline, TemplateError> {
    let mut pipeline = Pipeline::default();
    // Declarations: `$x :=`, `$i, $v :=`, `$x =`.
    let mut lookahead = *position;
    let mut variables = Vec::new();
    loop {
        match tokens.get(lookahead) {
            Some((Token::Variable(name, fields), _)) if fields.is_empty() => {
                variables.push(name.clone());
                lookahead += 1;
            }
            _ => break,
        }
        match tokens.get(lookahead) {
            Some((Token::Comma, _)) => lookahead += 1,
            Some((Token::Declare, _)) => {
                pipeline.variables = variables.clone();
                *position = lookahead + 1;
                break;
            }
            Some((Token::Assign, _)) => {
                pipeline.variables = variables.clone();
                pipeline.is_assignment = true;
                *position = lookahead + 1;
                break;
            }
            _ => break,
        }
    }
    let mut command = Vec::new();
    while let Some((token, spaced)) = tokens.get(*position) {
        match token {
            Token::Close => break,
            Token::Pipe => {
                if command.is_empty() {
                    return Err(TemplateError::Parse("missing command".to_string()));
                }
                pipeline.commands.push(std::mem::take(&mut command));
                *position += 1;
                continue;
            }
            _ => {}
        }
        *position += 1;
        let operand = match token {
            Token::Identifier(name) => match name.as_str() {
                "true" => Operand::Boolean(true),
                "false" => Operand::Boolean(false),
                "nil" => Operand::Nil,
                _ => Operand::Function(name.clone()),
            },
            Token::Fields(fields) => {
                if !spaced && !command.is_empty() {
                    // `(pipeline).Field` chains onto the operand before.
                    match command.pop() {
                        Some(Operand::Nested(inner, mut chain)) => {
                            chain.extend(fields.iter().cloned());
                            command.push(Operand::Nested(inner, chain));
                            continue;
                        }
                        Some(other) => command.push(other),
                        None => {}
                    }
                }
                Operand::Field(fields.clone())
            }
            Token::Variable(name, fields) => Operand::Variable(name.clone(), fields.clone()),
            Token::Text(text) => Operand::Text(text.clone()),
            Token::Number(text) => parse_number(text)?,
            Token::Open => {
                let inner = pipeline_from_tokens(tokens, position)?;
                if !matches!(tokens.get(*position), Some((Token::Close, _))) {
                    return Err(TemplateError::Parse("unclosed left paren".to_string()));
                }
                *position += 1;
                if inner.commands.is_empty() {
                    return Err(TemplateError::Parse(
                        "missing value for parenthesized pipeline".to_string(),
                    ));
                }
                Operand::Nested(Box::new(inner), Vec::new())
            }
            other => {
                return Err(TemplateError::Parse(format!(
                    "unexpected {other:?} in operand"
                )));
            }
        };
        command.push(operand);
    }
    if command.is_empty() {
        if pipeline.commands.is_empty() {
            return Err(TemplateError::Parse(
                "missing value for command".to_string(),
            ));
        }
        return Err(TemplateError::Parse(
            "missing command after pipe".to_string(),
        ));
    }
    pipeline.commands.push(command);
    Ok(pipeline)
}

fn parse_number(text: &str) -> Result<Operand, TemplateError> {
    let cleaned = text.replace('_', "");
    let (negative, digits) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, cleaned.trim_start_matches('+').to_string()),
    };
    let sign = if negative { -1 } else { 1 };
    if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        return i64::from_str_radix(hex, 16)
            .map(|value| Operand::Integer(sign * value))
            .map_err(|_| TemplateError::Parse(format!("bad number syntax: {text:?}")));
    }
    if let Ok(value) = digits.parse::<i64>() {
        return Ok(Operand::Integer(sign * value));
    }
    digits
        .parse::<f64>()
        .map(|value| Operand::Float(sign as f64 * value))
        .map_err(|_| TemplateError::Parse(format!("bad number syntax: {text:?}")))
}
