//! Every field of the config model, walked, against the table in
//! `tests/fixtures/config/fields.txt`: each is `honoured` (it takes
//! effect), `warns` (accepted, not built: a start-up warning names it),
//! `warns-when` (built for some values, a warning for the others), `inert`
//! (read only by a mode refused at load) or a user-keyed `map`. A field added to the model without a row fails here,
//! so nothing can slip in silently ignored. Fields Prometheus has that the
//! model lacks are refused at load by name (`config::UNSUPPORTED_FIELDS`
//! and the SD mechanisms), tested in the config unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

/// A row's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Takes effect.
    Honoured,
    /// Accepted, not built: the fixture sets it and it warns.
    Warns,
    /// Takes effect for the values built; warns for the others (which the
    /// fixtures do not use).
    WarnsWhen,
    /// Read only by a mode refused at load (the OAuth 2.0 JWT-bearer
    /// grant); as in Prometheus, it does nothing otherwise.
    Inert,
    /// A user-keyed map (label names, header names): not walked into.
    Map,
}

fn table() -> BTreeMap<String, Status> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/fields.txt");
    let text = std::fs::read_to_string(&path).expect("read fields.txt");
    let mut rows = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(field), Some(status)) = (words.next(), words.next()) else {
            panic!("fields.txt:{}: want `path status`", number + 1);
        };
        let status = match status {
            "honoured" => Status::Honoured,
            "warns" => Status::Warns,
            "warns-when" => Status::WarnsWhen,
            "inert" => Status::Inert,
            "map" => Status::Map,
            other => panic!("fields.txt:{}: unknown status {other:?}", number + 1),
        };
        assert!(
            rows.insert(field.to_string(), status).is_none(),
            "fields.txt:{}: {field} listed twice",
            number + 1
        );
    }
    rows
}

/// Every leaf path of `value`: list items as `[]`, user-keyed maps (rows
/// with status `map`) not descended into.
fn walk(value: &Value, path: &str, maps: &BTreeSet<String>, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(fields) if !maps.contains(path) => {
            for (name, field) in fields {
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                walk(field, &child, maps, out);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for item in items {
                walk(item, &format!("{path}[]"), maps, out);
            }
        }
        _ => {
            out.insert(path.to_string());
        }
    }
}

/// A warning's path (`scrape_configs.0.extra_scrape_metrics`) in the
/// table's form (`scrape_configs[].extra_scrape_metrics`).
fn table_form(path: &str) -> String {
    let mut out = String::new();
    for part in path.split('.') {
        if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            out.push_str("[]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

fn fixture(name: &str) -> promshard::config::Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name);
    promshard::config::load_file(&path).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn every_config_field_is_in_the_table_and_warns_exactly_when_listed() {
    let rows = table();
    let maps: BTreeSet<String> = rows
        .iter()
        .filter(|(_, status)| **status == Status::Map)
        .map(|(path, _)| path.clone())
        .collect();
    let mut walked = BTreeSet::new();
    let mut warned = BTreeSet::new();
    for name in ["every_field.yml", "every_field_extra.yml"] {
        let config = fixture(name);
        let value = serde_json::to_value(&config).expect("the config serializes");
        walk(&value, "", &maps, &mut walked);
        warned.extend(config.warnings().iter().map(|w| table_form(&w.path)));
    }
    // An optional section left empty in one place and set in another is
    // listed by its fields.
    let parents: BTreeSet<String> = walked
        .iter()
        .filter(|path| {
            walked.iter().any(|other| {
                other.len() > path.len()
                    && other.starts_with(path.as_str())
                    && matches!(other.as_bytes()[path.len()], b'.' | b'[')
            })
        })
        .cloned()
        .collect();
    let walked: BTreeSet<String> = walked.difference(&parents).cloned().collect();
    if std::env::var_os("PROMSHARD_DUMP_FIELDS").is_some() {
        for path in &walked {
            let status = if warned.contains(path) {
                "warns"
            } else {
                "honoured"
            };
            println!("FIELD {path} {status}");
        }
    }
    let listed: BTreeSet<String> = rows.keys().cloned().collect();
    let unlisted: Vec<&String> = walked.difference(&listed).collect();
    let stale: Vec<&String> = listed.difference(&walked).collect();
    assert!(
        unlisted.is_empty(),
        "fields of the model with no row in fields.txt (say whether each takes effect): {unlisted:#?}"
    );
    assert!(
        stale.is_empty(),
        "rows in fields.txt the model (or the fixtures) no longer has: {stale:#?}"
    );
    for (path, status) in &rows {
        match status {
            Status::Warns => assert!(
                warned.contains(path),
                "{path} is listed as warning but set in the fixture it gives no warning"
            ),
            Status::WarnsWhen => {}
            Status::Honoured | Status::Inert | Status::Map => assert!(
                !warned.contains(path),
                "{path} warns but is listed as {status:?}"
            ),
        }
    }
}
