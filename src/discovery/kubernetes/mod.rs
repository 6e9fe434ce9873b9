//! Kubernetes service discovery, as Prometheus 3.5's `kubernetes_sd_configs`
//! builds targets. Work in progress (issue 13): the label logic of the
//! `pod` role is here, from API objects as the API server serves them; the
//! list/watch client, the other roles and the config section are not built
//! yet, and `kubernetes_sd_configs` is still refused at load by name.

pub mod objects;
pub mod pod;

/// Prometheus's `strutil.SanitizeLabelName`: every character outside
/// `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Adds `<prefix>_name`, `<prefix>_label_*`, `<prefix>_labelpresent_*`,
/// `<prefix>_annotation_*` and `<prefix>_annotationpresent_*` for an
/// object's metadata (`prefix` is `__meta_kubernetes_<role>`), as
/// Prometheus's `addObjectMetaLabels`.
pub fn add_object_meta_labels(
    pairs: &mut Vec<(String, String)>,
    metadata: &objects::ObjectMeta,
    prefix: &str,
) {
    pairs.push((format!("{prefix}_name"), metadata.name.clone()));
    for (key, value) in &metadata.labels {
        let name = sanitize_label_name(key);
        pairs.push((format!("{prefix}_label_{name}"), value.clone()));
        pairs.push((format!("{prefix}_labelpresent_{name}"), "true".to_string()));
    }
    for (key, value) in &metadata.annotations {
        let name = sanitize_label_name(key);
        pairs.push((format!("{prefix}_annotation_{name}"), value.clone()));
        pairs.push((
            format!("{prefix}_annotationpresent_{name}"),
            "true".to_string(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_sanitized_as_prometheus_does() {
        assert_eq!(
            sanitize_label_name("app.kubernetes.io/name"),
            "app_kubernetes_io_name"
        );
        assert_eq!(
            sanitize_label_name("prometheus.io/scrape"),
            "prometheus_io_scrape"
        );
        assert_eq!(sanitize_label_name("ok_Name9"), "ok_Name9");
        assert_eq!(sanitize_label_name("ü-x"), "__x");
    }
}
