//! The AST as JSON, in the shape Prometheus's `/api/v1/parse_query` gives
//! (its UI's tree view reads it).

use promql_parser::parser::{
    AtModifier, Expr, LabelModifier, VectorMatchCardinality, VectorSelector,
};
use serde_json::{Value as Json, json};

use super::eval::{offset_ms, range_ms};
use super::value::format_float;

fn at_fields(at: &Option<AtModifier>) -> (Json, Json) {
    match at {
        None => (Json::Null, Json::Null),
        Some(AtModifier::Start) => (Json::Null, json!("start")),
        Some(AtModifier::End) => (Json::Null, json!("end")),
        Some(AtModifier::At(time)) => {
            let ms = match time.duration_since(std::time::UNIX_EPOCH) {
                Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
                Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
            };
            (json!(ms), Json::Null)
        }
    }
}

fn selector_json(selector: &VectorSelector) -> Json {
    let matchers: Vec<Json> = selector
        .matchers
        .matchers
        .iter()
        .map(|m| json!({"type": m.op.to_string(), "name": m.name, "value": m.value}))
        .collect();
    let (timestamp, start_or_end) = at_fields(&selector.at);
    json!({
        "type": "vectorSelector",
        "name": selector.name.clone().unwrap_or_default(),
        "matchers": matchers,
        "offset": offset_ms(&selector.offset),
        "timestamp": timestamp,
        "startOrEnd": start_or_end,
    })
}

/// Translates an expression into Prometheus's JSON tree.
pub fn translate(expr: &Expr) -> Json {
    match expr {
        Expr::Aggregate(aggregate) => {
            let (grouping, without) = match &aggregate.modifier {
                Some(LabelModifier::Include(labels)) => (labels.labels.clone(), false),
                Some(LabelModifier::Exclude(labels)) => (labels.labels.clone(), true),
                None => (Vec::new(), false),
            };
            json!({
                "type": "aggregation",
                "op": aggregate.op.to_string(),
                "expr": translate(&aggregate.expr),
                "param": aggregate.param.as_ref().map(|p| translate(p)),
                "grouping": grouping,
                "without": without,
            })
        }
        Expr::Binary(binary) => {
            let matching = binary.modifier.as_ref().map(|modifier| {
                let (card, include) = match &modifier.card {
                    VectorMatchCardinality::OneToOne => ("one-to-one", Vec::new()),
                    VectorMatchCardinality::ManyToOne(labels) => {
                        ("many-to-one", labels.labels.clone())
                    }
                    VectorMatchCardinality::OneToMany(labels) => {
                        ("one-to-many", labels.labels.clone())
                    }
                    VectorMatchCardinality::ManyToMany => ("many-to-many", Vec::new()),
                };
                let (on, labels) = match &modifier.matching {
                    Some(LabelModifier::Include(labels)) => (true, labels.labels.clone()),
                    Some(LabelModifier::Exclude(labels)) => (false, labels.labels.clone()),
                    None => (false, Vec::new()),
                };
                json!({"card": card, "labels": labels, "on": on, "include": include})
            });
            json!({
                "type": "binaryExpr",
                "op": binary.op.to_string(),
                "lhs": translate(&binary.lhs),
                "rhs": translate(&binary.rhs),
                "matching": matching,
                "bool": binary.modifier.as_ref().is_some_and(|m| m.return_bool),
            })
        }
        Expr::Call(call) => json!({
            "type": "call",
            "func": {
                "name": call.func.name,
                "argTypes": call.func.arg_types.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                "variadic": call.func.variadic,
                "returnType": call.func.return_type.to_string(),
            },
            "args": call.args.args.iter().map(|a| translate(a)).collect::<Vec<_>>(),
        }),
        Expr::MatrixSelector(matrix) => {
            let mut selector = selector_json(&matrix.vs);
            selector["type"] = json!("matrixSelector");
            selector["range"] = json!(range_ms(&matrix.range));
            selector
        }
        Expr::Subquery(subquery) => {
            let (timestamp, start_or_end) = at_fields(&subquery.at);
            json!({
                "type": "subquery",
                "expr": translate(&subquery.expr),
                "range": range_ms(&subquery.range),
                "offset": offset_ms(&subquery.offset),
                "step": subquery.step.as_ref().map(range_ms).unwrap_or(0),
                "timestamp": timestamp,
                "startOrEnd": start_or_end,
            })
        }
        Expr::NumberLiteral(number) => {
            json!({"type": "numberLiteral", "val": format_float(number.val)})
        }
        Expr::Paren(paren) => json!({"type": "parenExpr", "expr": translate(&paren.expr)}),
        Expr::StringLiteral(string) => json!({"type": "stringLiteral", "val": string.val}),
        Expr::Unary(unary) => {
            json!({"type": "unaryExpr", "op": "-", "expr": translate(&unary.expr)})
        }
        Expr::VectorSelector(selector) => selector_json(selector),
        Expr::Extension(extension) => json!({"type": "extension", "name": extension.expr.name()}),
    }
}
