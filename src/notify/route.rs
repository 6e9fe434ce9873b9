//! The routing tree: which routes (and so which receivers and group
//! settings) an alert belongs to, as Alertmanager's `route` decides.

use std::collections::BTreeMap;
use std::time::Duration;

use super::NotifyError;
use super::alert::{LabelSet, format_labels};
use crate::config::notify::{RouteConfig, combined_matchers};
use crate::model::matcher::Matcher;

/// How alerts of a route are grouped.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupBy {
    /// `...`: every label (one group per alert).
    AllLabels,
    /// Only these labels.
    Labels(Vec<String>),
}

/// The settings a route applies (inherited down the tree).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteOptions {
    /// The receiver's name.
    pub receiver: String,
    /// Grouping.
    pub group_by: GroupBy,
    /// Wait before a new group's first notification.
    pub group_wait: Duration,
    /// Wait between notifications about a changed group.
    pub group_interval: Duration,
    /// Wait before repeating an unchanged notification.
    pub repeat_interval: Duration,
}

/// One node of the routing tree.
#[derive(Debug, Clone)]
pub struct Route {
    /// Identifies the route in group keys: the matchers from the root down
    /// (`{}/{team="a"}`), with the child position to keep twins apart.
    pub key: String,
    /// Effective settings.
    pub options: RouteOptions,
    /// What an alert must satisfy.
    pub matchers: Vec<Matcher>,
    /// Keep trying siblings after a match.
    pub continue_matching: bool,
    /// Children, tried in order.
    pub routes: Vec<Route>,
}

impl Route {
    /// Builds the tree from the root `route` config, with Alertmanager's
    /// defaults (30s, 5m, 4h) where the root leaves a value unset.
    pub fn from_config(config: &RouteConfig) -> Result<Route, NotifyError> {
        let defaults = RouteOptions {
            receiver: String::new(),
            group_by: GroupBy::Labels(Vec::new()),
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(300),
            repeat_interval: Duration::from_secs(4 * 3600),
        };
        Self::build(config, &defaults, "{}".to_string())
    }

    fn build(
        config: &RouteConfig,
        parent: &RouteOptions,
        key: String,
    ) -> Result<Route, NotifyError> {
        let matchers = combined_matchers(&config.matchers, &config.match_equal, &config.match_re)
            .map_err(|e| NotifyError::Config(e.to_string()))?;
        let options = RouteOptions {
            receiver: if config.receiver.is_empty() {
                parent.receiver.clone()
            } else {
                config.receiver.clone()
            },
            group_by: match &config.group_by {
                None => parent.group_by.clone(),
                Some(names) if names.iter().any(|n| n == "...") => GroupBy::AllLabels,
                Some(names) => GroupBy::Labels(names.clone()),
            },
            group_wait: config
                .group_wait
                .map_or(parent.group_wait, |d| d.as_duration()),
            group_interval: config
                .group_interval
                .map_or(parent.group_interval, |d| d.as_duration()),
            repeat_interval: config
                .repeat_interval
                .map_or(parent.repeat_interval, |d| d.as_duration()),
        };
        let mut routes = Vec::with_capacity(config.routes.len());
        for (position, child) in config.routes.iter().enumerate() {
            let child_matchers =
                combined_matchers(&child.matchers, &child.match_equal, &child.match_re)
                    .map_err(|e| NotifyError::Config(e.to_string()))?;
            let rendered: Vec<String> = child_matchers.iter().map(ToString::to_string).collect();
            let child_key = format!("{key}/{{{}}}/{position}", rendered.join(","));
            routes.push(Self::build(child, &options, child_key)?);
        }
        Ok(Route {
            key,
            options,
            matchers,
            continue_matching: config.continue_matching,
            routes,
        })
    }

    /// The routes an alert with `labels` ends at: the deepest matching
    /// routes, the first matching child only unless it has `continue`, and
    /// the node itself when no child matches. Empty when this node does
    /// not match.
    pub fn matching(&self, labels: &LabelSet) -> Vec<&Route> {
        let matches_self = self
            .matchers
            .iter()
            .all(|matcher| matcher.matches(labels.get(&matcher.name).map_or("", String::as_str)));
        if !matches_self {
            return Vec::new();
        }
        let mut found = Vec::new();
        for child in &self.routes {
            let child_matches = child.matching(labels);
            let matched = !child_matches.is_empty();
            found.extend(child_matches);
            if matched && !child.continue_matching {
                break;
            }
        }
        if found.is_empty() {
            found.push(self);
        }
        found
    }

    /// The labels of `labels` this route groups by.
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        match &self.options.group_by {
            GroupBy::AllLabels => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|name| labels.get(name).map(|value| (name.clone(), value.clone())))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    /// The group key of an alert group of this route
    /// (`{}/{team="a"}/0:{alertname="X"}`).
    pub fn group_key(&self, group_labels: &LabelSet) -> String {
        format!("{}:{}", self.key, format_labels(group_labels))
    }

    /// Every route of the tree, depth first (for listing receivers).
    pub fn walk(&self) -> Vec<&Route> {
        let mut all = vec![self];
        for child in &self.routes {
            all.extend(child.walk());
        }
        all
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table-driven cases
mod tests {
    use super::*;
    use crate::notify::alert::label_set as labels;

    fn tree() -> Route {
        let yaml = r#"
receiver: default
group_by: [alertname]
group_wait: 1s
routes:
  - matchers: ['team="db"']
    receiver: db
    group_by: ['...']
    routes:
      - matchers: ['severity="page"']
        receiver: db-pager
        group_wait: 0s
  - match: {team: web}
    receiver: web
    continue: true
  - match_re: {team: "web|ops"}
    receiver: web-and-ops
  - matchers: ['team!~"nobody|.*"']
    receiver: unreachable
"#;
        let config: RouteConfig = serde_saphyr::from_str(yaml).unwrap();
        Route::from_config(&config).unwrap()
    }

    #[test]
    fn alerts_reach_the_receivers_alertmanager_would_pick() {
        let root = tree();
        let cases: [(&[(&str, &str)], &[&str]); 6] = [
            (&[("alertname", "X")], &["default"]),
            (&[("team", "db")], &["db"]),
            (&[("team", "db"), ("severity", "page")], &["db-pager"]),
            (&[("team", "web")], &["web", "web-and-ops"]),
            (&[("team", "ops")], &["web-and-ops"]),
            (&[("team", "other")], &["default"]),
        ];
        for (alert_labels, expected) in cases {
            let matched: Vec<&str> = root
                .matching(&labels(alert_labels))
                .iter()
                .map(|route| route.options.receiver.as_str())
                .collect();
            assert_eq!(matched, expected.to_vec(), "{alert_labels:?}");
        }
    }

    #[test]
    fn options_are_inherited_and_overridden() {
        let root = tree();
        let pager = root.matching(&labels(&[("team", "db"), ("severity", "page")]))[0];
        assert_eq!(pager.options.group_wait, Duration::ZERO);
        assert_eq!(pager.options.group_by, GroupBy::AllLabels);
        assert_eq!(pager.options.group_interval, Duration::from_secs(300));
        let web = root.matching(&labels(&[("team", "web")]))[0];
        assert_eq!(web.options.group_wait, Duration::from_secs(1));
        assert_eq!(web.options.repeat_interval, Duration::from_secs(4 * 3600));
    }

    #[test]
    fn group_keys_separate_routes_and_group_labels() {
        let root = tree();
        let alert = labels(&[("alertname", "X"), ("instance", "a")]);
        let other_instance = labels(&[("alertname", "X"), ("instance", "b")]);
        let route = root.matching(&alert)[0];
        let key = route.group_key(&route.group_labels(&alert));
        assert_eq!(key, "{}:{alertname=\"X\"}");
        assert_eq!(key, route.group_key(&route.group_labels(&other_instance)));
        let web = labels(&[("alertname", "X"), ("team", "web")]);
        let keys: Vec<String> = root
            .matching(&web)
            .iter()
            .map(|r| r.group_key(&r.group_labels(&web)))
            .collect();
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0], keys[1]);
    }
}
