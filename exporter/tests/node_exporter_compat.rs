//! Names compared with the real node_exporter (Debian's
//! `prometheus-node-exporter`) running on the same host: every family we
//! export that node_exporter also exports must have the same type and label
//! names, and every required family must exist in both.

mod common;

use std::collections::BTreeSet;

use common::{REQUIRED_FAMILIES, http_get, parse_exposition, start_exporter, start_server};

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

#[test]
fn our_families_match_node_exporter_names_types_and_labels() {
    assert!(
        std::path::Path::new(NODE_EXPORTER).exists(),
        "{NODE_EXPORTER} is needed: apt-get install prometheus-node-exporter"
    );
    let node_exporter = start_server(NODE_EXPORTER, &[]);
    let exporter = start_exporter(&[]);
    let theirs = parse_exposition(&http_get(node_exporter.address, "/metrics").unwrap().body);
    let ours = parse_exposition(&http_get(exporter.address, "/metrics").unwrap().body);

    let mut mismatches = Vec::new();
    for (name, _, _) in REQUIRED_FAMILIES {
        if !theirs.contains_key(*name) {
            mismatches.push(format!("{name}: required but node_exporter lacks it"));
        }
    }
    let mut only_ours = Vec::new();
    for (name, our_family) in &ours {
        let Some(their_family) = theirs.get(name) else {
            only_ours.push(name.as_str());
            continue;
        };
        if our_family.kind != their_family.kind {
            mismatches.push(format!(
                "{name}: type {} vs node_exporter's {}",
                our_family.kind, their_family.kind
            ));
        }
        if our_family.label_names() != their_family.label_names() {
            mismatches.push(format!(
                "{name}: labels {:?} vs node_exporter's {:?}",
                our_family.label_names(),
                their_family.label_names()
            ));
        }
        if our_family.help != their_family.help {
            mismatches.push(format!(
                "{name}: help {:?} vs node_exporter's {:?}",
                our_family.help, their_family.help
            ));
        }
    }
    // Grouped by their first two name parts (`node_hwmon`, `go_memstats`...) to keep the list short.
    let only_theirs: BTreeSet<String> = theirs
        .keys()
        .filter(|name| !ours.contains_key(*name))
        .map(|name| name.split('_').take(2).collect::<Vec<_>>().join("_"))
        .collect();
    println!("families only we export: {only_ours:?}");
    println!("node_exporter family groups we do not export: {only_theirs:?}");
    println!(
        "{} of our {} families also in node_exporter's {}",
        ours.len() - only_ours.len(),
        ours.len(),
        theirs.len()
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
