//! `notify`: the built-in Alertmanager's routing tree, receivers and
//! inhibition rules, modelled on Alertmanager's own configuration file
//! (`route`, `receivers`, `inhibit_rules`, `global`), plus the matcher
//! syntax that Alertmanager uses in `matchers:`, silences and API filters.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::duration::PromDuration;
use super::http_client::{HttpClientConfig, Secret};
use super::locate::join_path;
use super::serde_helpers::null_as_default;
use crate::model::matcher::{MatchType, Matcher};

/// The `notify` section: when present, promshard runs a built-in
/// Alertmanager fed by its own rules and by `POST /api/v2/alerts`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Defaults for receivers and the resolve timeout.
    #[serde(deserialize_with = "null_as_default")]
    pub global: NotifyGlobalConfig,
    /// The root of the routing tree; its `receiver` is required.
    #[serde(deserialize_with = "null_as_default")]
    pub route: RouteConfig,
    /// The receivers routes name.
    #[serde(deserialize_with = "null_as_default")]
    pub receivers: Vec<ReceiverConfig>,
    /// Rules muting target alerts while a source alert fires.
    #[serde(deserialize_with = "null_as_default")]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
}

/// `notify.global`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyGlobalConfig {
    /// An alert posted without `endsAt` is resolved after this long
    /// without an update (default 5m).
    pub resolve_timeout: PromDuration,
    /// Default SMTP server `host:port` for email receivers.
    pub smtp_smarthost: String,
    /// Default sender address for email receivers.
    pub smtp_from: String,
    /// Default `HELO` name (default `localhost`).
    pub smtp_hello: String,
    /// Default SMTP user.
    pub smtp_auth_username: String,
    /// Default SMTP password.
    pub smtp_auth_password: Secret,
    /// Whether email receivers require STARTTLS by default (default true).
    pub smtp_require_tls: bool,
    /// Default Slack incoming-webhook URL.
    pub slack_api_url: Secret,
    /// Default PagerDuty Events API URL.
    pub pagerduty_url: String,
}

impl Default for NotifyGlobalConfig {
    fn default() -> Self {
        NotifyGlobalConfig {
            resolve_timeout: PromDuration::from_secs(300),
            smtp_smarthost: String::new(),
            smtp_from: String::new(),
            smtp_hello: "localhost".to_string(),
            smtp_auth_username: String::new(),
            smtp_auth_password: Secret::default(),
            smtp_require_tls: true,
            slack_api_url: Secret::default(),
            pagerduty_url: "https://events.pagerduty.com/v2/enqueue".to_string(),
        }
    }
}

/// One node of the routing tree. Unset timings and `group_by` are
/// inherited from the parent; the root's defaults are Alertmanager's
/// (30s, 5m, 4h).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    /// The receiver of alerts that stop at this route.
    pub receiver: String,
    /// Labels to group by; `...` groups by all labels.
    #[serde(deserialize_with = "null_as_default")]
    pub group_by: Option<Vec<String>>,
    /// Wait before the first notification of a new group.
    pub group_wait: Option<PromDuration>,
    /// Wait before notifying about changes in a group.
    pub group_interval: Option<PromDuration>,
    /// Wait before repeating an unchanged notification.
    pub repeat_interval: Option<PromDuration>,
    /// Matchers in Alertmanager's syntax (`severity=~"warning|critical"`).
    #[serde(deserialize_with = "null_as_default")]
    pub matchers: Vec<String>,
    /// Legacy equality matchers.
    #[serde(rename = "match", deserialize_with = "null_as_default")]
    pub match_equal: BTreeMap<String, String>,
    /// Legacy regex matchers.
    #[serde(deserialize_with = "null_as_default")]
    pub match_re: BTreeMap<String, String>,
    /// Keep looking at sibling routes after this one matched.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    /// Child routes, tried in order.
    #[serde(deserialize_with = "null_as_default")]
    pub routes: Vec<RouteConfig>,
}

/// One receiver: a name and its integrations.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiverConfig {
    /// The name routes refer to.
    pub name: String,
    /// Webhooks (Alertmanager's JSON payload, version 4).
    #[serde(deserialize_with = "null_as_default")]
    pub webhook_configs: Vec<WebhookConfig>,
    /// Email over SMTP.
    #[serde(deserialize_with = "null_as_default")]
    pub email_configs: Vec<EmailConfig>,
    /// Slack incoming webhooks.
    #[serde(deserialize_with = "null_as_default")]
    pub slack_configs: Vec<SlackConfig>,
    /// PagerDuty Events API v2.
    #[serde(deserialize_with = "null_as_default")]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
}

/// `webhook_configs` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Whether resolved alerts are sent (default true).
    pub send_resolved: bool,
    /// The URL to POST to.
    pub url: String,
    /// At most this many alerts per message; 0 is no limit.
    pub max_alerts: u64,
    /// Timeout per request; 0 means the group interval bounds it.
    pub timeout: PromDuration,
    /// HTTP client settings (auth, TLS, proxy), as Alertmanager's.
    pub http_config: HttpClientConfig,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            send_resolved: true,
            url: String::new(),
            max_alerts: 0,
            timeout: PromDuration::ZERO,
            http_config: HttpClientConfig::default(),
        }
    }
}

/// `email_configs` entry; empty fields take `notify.global`'s values.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// Whether resolved alerts are sent (default false).
    pub send_resolved: bool,
    /// Recipient address(es), comma separated.
    pub to: String,
    /// Sender address.
    pub from: String,
    /// SMTP server `host:port`.
    pub smarthost: String,
    /// `HELO` name.
    pub hello: String,
    /// SMTP user.
    pub auth_username: String,
    /// SMTP password.
    pub auth_password: Secret,
    /// Require STARTTLS; unset takes `global.smtp_require_tls`. Port 465
    /// speaks TLS from the start (SMTPS).
    pub require_tls: Option<bool>,
    /// TLS settings (`ca_file`, `server_name`, `insecure_skip_verify`).
    pub tls_config: super::http_client::TlsConfig,
    /// Extra headers (`Subject` overrides the default subject).
    #[serde(deserialize_with = "null_as_default")]
    pub headers: BTreeMap<String, String>,
}

/// `slack_configs` entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackConfig {
    /// Whether resolved alerts are sent (default false).
    pub send_resolved: bool,
    /// The incoming-webhook URL; empty takes `global.slack_api_url`.
    pub api_url: Secret,
    /// Channel override.
    pub channel: String,
    /// User name override.
    pub username: String,
    /// HTTP client settings (auth, TLS, proxy).
    pub http_config: HttpClientConfig,
}

/// `pagerduty_configs` entry (Events API v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PagerdutyConfig {
    /// Whether resolves are sent (default true).
    pub send_resolved: bool,
    /// The integration key.
    pub routing_key: Secret,
    /// Events API URL; empty takes `global.pagerduty_url`.
    pub url: String,
    /// Severity of the event (default `error`).
    pub severity: String,
    /// Client name in the event.
    pub client: String,
    /// HTTP client settings (auth, TLS, proxy).
    pub http_config: HttpClientConfig,
}

impl Default for PagerdutyConfig {
    fn default() -> Self {
        PagerdutyConfig {
            send_resolved: true,
            routing_key: Secret::default(),
            url: String::new(),
            severity: "error".to_string(),
            client: "promshard".to_string(),
            http_config: HttpClientConfig::default(),
        }
    }
}

/// One `inhibit_rules` entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Matchers the muting (source) alert must satisfy.
    #[serde(deserialize_with = "null_as_default")]
    pub source_matchers: Vec<String>,
    /// Matchers the muted (target) alert must satisfy.
    #[serde(deserialize_with = "null_as_default")]
    pub target_matchers: Vec<String>,
    /// Legacy equality source matchers.
    #[serde(deserialize_with = "null_as_default")]
    pub source_match: BTreeMap<String, String>,
    /// Legacy regex source matchers.
    #[serde(deserialize_with = "null_as_default")]
    pub source_match_re: BTreeMap<String, String>,
    /// Legacy equality target matchers.
    #[serde(deserialize_with = "null_as_default")]
    pub target_match: BTreeMap<String, String>,
    /// Legacy regex target matchers.
    #[serde(deserialize_with = "null_as_default")]
    pub target_match_re: BTreeMap<String, String>,
    /// Labels whose values must be equal in source and target.
    #[serde(deserialize_with = "null_as_default")]
    pub equal: Vec<String>,
}

/// A matcher string that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("bad matcher {input:?}: {reason}")]
pub struct MatcherParseError {
    /// The text given.
    pub input: String,
    /// What is wrong.
    pub reason: String,
}

/// Parses one matcher in Alertmanager's syntax: `name OP value`, with
/// `OP` one of `=`, `!=`, `=~`, `!~` and the value quoted (`"a\"b"`) or
/// bare; surrounding braces are allowed (`{name="value"}`).
pub fn parse_matcher(input: &str) -> Result<Matcher, MatcherParseError> {
    let mut matchers = parse_matchers(input)?;
    if matchers.len() != 1 {
        return Err(MatcherParseError {
            input: input.to_string(),
            reason: format!("expected one matcher, found {}", matchers.len()),
        });
    }
    Ok(matchers.remove(0))
}

/// Parses a comma-separated list of matchers, optionally in braces:
/// `{alertname="Foo", severity=~"warn|crit"}`.
pub fn parse_matchers(input: &str) -> Result<Vec<Matcher>, MatcherParseError> {
    let fail = |reason: &str| MatcherParseError {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let mut text = input.trim();
    if let Some(inner) = text.strip_prefix('{') {
        text = inner
            .strip_suffix('}')
            .ok_or_else(|| fail("missing closing brace"))?
            .trim();
    }
    let mut matchers = Vec::new();
    let mut rest = text;
    while !rest.trim().is_empty() {
        let operator_start = rest
            .find(['=', '!'])
            .ok_or_else(|| fail("missing operator"))?;
        let name = rest[..operator_start].trim().trim_matches('"');
        if name.is_empty() {
            return Err(fail("missing label name"));
        }
        let after_name = &rest[operator_start..];
        let (match_type, operator_len) = if after_name.starts_with("=~") {
            (MatchType::Regex, 2)
        } else if after_name.starts_with("!~") {
            (MatchType::NotRegex, 2)
        } else if after_name.starts_with("!=") {
            (MatchType::NotEqual, 2)
        } else if after_name.starts_with('=') {
            (MatchType::Equal, 1)
        } else {
            return Err(fail("unknown operator"));
        };
        let value_text = after_name[operator_len..].trim_start();
        let (value, remainder) = if let Some(quoted) = value_text.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((index, character)) = chars.next() {
                match character {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, escaped)) => value.push(escaped),
                        None => return Err(fail("unterminated escape")),
                    },
                    '"' => {
                        end = Some(index + 1);
                        break;
                    }
                    other => value.push(other),
                }
            }
            let end = end.ok_or_else(|| fail("unterminated quoted value"))?;
            (value, &quoted[end..])
        } else {
            let end = value_text.find(',').unwrap_or(value_text.len());
            (value_text[..end].trim().to_string(), &value_text[end..])
        };
        let matcher = Matcher::new(match_type, name, value).map_err(|e| fail(&e.to_string()))?;
        matchers.push(matcher);
        let remainder = remainder.trim_start();
        rest = match remainder.strip_prefix(',') {
            Some(next) => next,
            None if remainder.is_empty() => remainder,
            None => return Err(fail("expected a comma between matchers")),
        };
    }
    Ok(matchers)
}

/// The matchers of a route or one side of an inhibit rule: `matchers`
/// plus the legacy `match`/`match_re` maps.
pub fn combined_matchers(
    matchers: &[String],
    match_equal: &BTreeMap<String, String>,
    match_re: &BTreeMap<String, String>,
) -> Result<Vec<Matcher>, MatcherParseError> {
    let mut out = Vec::new();
    for text in matchers {
        out.push(parse_matcher(text)?);
    }
    for (name, value) in match_equal {
        out.push(Matcher::equal(name.clone(), value.clone()));
    }
    for (name, pattern) in match_re {
        out.push(
            Matcher::new(MatchType::Regex, name.clone(), pattern.clone()).map_err(|e| {
                MatcherParseError {
                    input: pattern.clone(),
                    reason: e.to_string(),
                }
            })?,
        );
    }
    Ok(out)
}

/// Validates the `notify` section: a `(path, message)` pair names the
/// broken field.
pub(crate) fn validate_notify(notify: &NotifyConfig) -> Result<(), (String, String)> {
    let mut names = HashSet::new();
    for (position, receiver) in notify.receivers.iter().enumerate() {
        let path = format!("notify.receivers.{position}");
        if receiver.name.is_empty() {
            return Err((join_path(&path, "name"), "missing receiver name".into()));
        }
        if !names.insert(receiver.name.as_str()) {
            return Err((
                join_path(&path, "name"),
                format!("notification config name {:?} is not unique", receiver.name),
            ));
        }
        validate_receiver(receiver, &notify.global, &path)?;
    }
    if notify.route.receiver.is_empty() {
        return Err((
            "notify.route.receiver".into(),
            "root route must specify a default receiver".into(),
        ));
    }
    if !notify.route.matchers.is_empty()
        || !notify.route.match_equal.is_empty()
        || !notify.route.match_re.is_empty()
    {
        return Err((
            "notify.route.matchers".into(),
            "root route must not have any matchers".into(),
        ));
    }
    if notify.route.continue_matching {
        return Err((
            "notify.route.continue".into(),
            "cannot have continue in root route".into(),
        ));
    }
    validate_route(&notify.route, &names, "notify.route")?;
    for (position, rule) in notify.inhibit_rules.iter().enumerate() {
        let path = format!("notify.inhibit_rules.{position}");
        combined_matchers(
            &rule.source_matchers,
            &rule.source_match,
            &rule.source_match_re,
        )
        .map_err(|e| (join_path(&path, "source_matchers"), e.to_string()))?;
        combined_matchers(
            &rule.target_matchers,
            &rule.target_match,
            &rule.target_match_re,
        )
        .map_err(|e| (join_path(&path, "target_matchers"), e.to_string()))?;
    }
    Ok(())
}

fn validate_route(
    route: &RouteConfig,
    receivers: &HashSet<&str>,
    path: &str,
) -> Result<(), (String, String)> {
    if !route.receiver.is_empty() && !receivers.contains(route.receiver.as_str()) {
        return Err((
            join_path(path, "receiver"),
            format!("undefined receiver {:?} used in route", route.receiver),
        ));
    }
    if let Some(group_by) = &route.group_by
        && group_by.iter().any(|name| name == "...")
        && group_by.len() > 1
    {
        return Err((
            join_path(path, "group_by"),
            "cannot have wildcard group_by (`...`) and other labels at the same time".into(),
        ));
    }
    for (field, value) in [
        ("group_interval", route.group_interval),
        ("repeat_interval", route.repeat_interval),
    ] {
        if value.is_some_and(PromDuration::is_zero) {
            return Err((join_path(path, field), format!("{field} cannot be zero")));
        }
    }
    combined_matchers(&route.matchers, &route.match_equal, &route.match_re)
        .map_err(|e| (join_path(path, "matchers"), e.to_string()))?;
    for (position, child) in route.routes.iter().enumerate() {
        validate_route(child, receivers, &format!("{path}.routes.{position}"))?;
    }
    Ok(())
}

fn validate_receiver(
    receiver: &ReceiverConfig,
    global: &NotifyGlobalConfig,
    path: &str,
) -> Result<(), (String, String)> {
    for (position, webhook) in receiver.webhook_configs.iter().enumerate() {
        let field = format!("{path}.webhook_configs.{position}.url");
        match url::Url::parse(&webhook.url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
            Ok(_) => return Err((field, "unsupported scheme in webhook url".into())),
            Err(error) => return Err((field, format!("bad webhook url: {error}"))),
        }
    }
    for (position, email) in receiver.email_configs.iter().enumerate() {
        let entry = format!("{path}.email_configs.{position}");
        if email.to.is_empty() {
            return Err((
                join_path(&entry, "to"),
                "missing to address in email config".into(),
            ));
        }
        if email.smarthost.is_empty() && global.smtp_smarthost.is_empty() {
            return Err((
                join_path(&entry, "smarthost"),
                "no global SMTP smarthost set".into(),
            ));
        }
        if email.from.is_empty() && global.smtp_from.is_empty() {
            return Err((join_path(&entry, "from"), "no global SMTP from set".into()));
        }
    }
    for (position, slack) in receiver.slack_configs.iter().enumerate() {
        if slack.api_url.is_empty() && global.slack_api_url.is_empty() {
            return Err((
                format!("{path}.slack_configs.{position}.api_url"),
                "no global Slack API URL set".into(),
            ));
        }
    }
    for (position, pagerduty) in receiver.pagerduty_configs.iter().enumerate() {
        if pagerduty.routing_key.is_empty() {
            return Err((
                format!("{path}.pagerduty_configs.{position}.routing_key"),
                "missing routing_key in PagerDuty config".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table-driven cases
mod tests {
    use super::*;

    #[test]
    fn matchers_parse_in_alertmanager_syntax() {
        let cases: [(&str, &[(&str, MatchType, &str)]); 7] = [
            ("alertname=Foo", &[("alertname", MatchType::Equal, "Foo")]),
            (
                "severity =~ \"warning|critical\"",
                &[("severity", MatchType::Regex, "warning|critical")],
            ),
            ("team!=\"a\\\"b\"", &[("team", MatchType::NotEqual, "a\"b")]),
            (
                "{env!~\"prod.*\"}",
                &[("env", MatchType::NotRegex, "prod.*")],
            ),
            (
                "{a=\"1\", b=~\"x,y\"}",
                &[("a", MatchType::Equal, "1"), ("b", MatchType::Regex, "x,y")],
            ),
            ("a=", &[("a", MatchType::Equal, "")]),
            ("{}", &[]),
        ];
        for (input, expected) in cases {
            let parsed = parse_matchers(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let got: Vec<_> = parsed
                .iter()
                .map(|m| (m.name.as_str(), m.match_type, m.value.as_str()))
                .collect();
            assert_eq!(got, expected.to_vec(), "{input}");
        }
    }

    #[test]
    fn notify_errors_name_the_line_and_field() {
        let cases = [
            (
                "notify:\n  route:\n    receiver: missing\n  receivers:\n    - name: team\n",
                3,
                "receiver",
                "undefined receiver",
            ),
            (
                "notify:\n  route:\n    receiver: team\n    routes:\n      - matchers: ['a=~\"(\"']\n  receivers:\n    - name: team\n",
                5,
                "matchers",
                "bad matcher",
            ),
            (
                "notify:\n  route:\n    receiver: team\n  receivers:\n    - name: team\n      webhook_configs:\n        - url: 'ftp://x'\n",
                7,
                "url",
                "scheme",
            ),
            (
                "notify:\n  route:\n    receiver: team\n  receivers:\n    - name: team\n      slack_configs:\n        - channel: x\n",
                7,
                "api_url",
                "Slack API URL",
            ),
            (
                "notify:\n  route:\n    receiver: team\n    group_wait: soon\n  receivers:\n    - name: team\n",
                4,
                "group_wait",
                "",
            ),
        ];
        for (yaml, line, field, wording) in cases {
            let error = crate::config::load_str(yaml, "am.yml").expect_err(yaml);
            assert_eq!(error.line(), line, "{error}");
            assert_eq!(error.field(), field, "{error}");
            assert!(error.to_string().contains(wording), "{error}");
        }
        let good = "notify:\n  route:\n    receiver: team\n    group_by: ['...']\n  receivers:\n    - name: team\n";
        let config = crate::config::load_str(good, "am.yml").unwrap();
        assert_eq!(
            config.notify.map(|n| n.global.resolve_timeout),
            Some(PromDuration::from_secs(300))
        );
    }

    #[test]
    fn bad_matchers_are_errors() {
        for input in ["alertname", "=foo", "a=\"open", "a=~\"(\"", "{a=b"] {
            assert!(parse_matchers(input).is_err(), "{input} should not parse");
        }
    }
}
