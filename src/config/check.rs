//! `promshard check config` and `promshard check rules`, behaving like
//! `promtool check config` / `promtool check rules`: the same messages
//! ("Checking X", " SUCCESS: ...", "  FAILED: ...") on the same streams and
//! the same exit codes (0 success, 1 failure; lint findings such as
//! duplicate rules are reported but, as without `--lint-fatal`, exit 0).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Config, HttpClientConfig, load_file};
use crate::discovery::file::read_target_group_file;
use crate::rules::file::{RuleFile, load_rule_file};

/// Exit code for success.
pub const SUCCESS_EXIT_CODE: i32 = 0;
/// Exit code for a failed check.
pub const FAILURE_EXIT_CODE: i32 = 1;
/// Exit code for lint findings with `--lint-fatal` (promtool's 3).
pub const LINT_ERROR_EXIT_CODE: i32 = 3;

/// Prometheus's default lookback delta: a longer scrape interval makes
/// series look stale between scrapes (a lint finding).
const LOOKBACK_DELTA_SECONDS: u64 = 300;

/// What a check found: failed at all, and whether any failure was an
/// error rather than a lint finding.
#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    failed: bool,
    has_errors: bool,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.failed |= other.failed;
        self.has_errors |= other.has_errors;
    }

    fn exit_code(self) -> i32 {
        if self.failed && self.has_errors {
            FAILURE_EXIT_CODE
        } else {
            SUCCESS_EXIT_CODE
        }
    }
}

/// Checks each config file, the rule files and SD files it names; writes
/// progress to `out` and failures to `err`; returns the exit code.
pub fn check_config_files(paths: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut outcome = Outcome::default();
    for path in paths {
        let _ = writeln!(out, "Checking {}", path.display());
        let rule_files = match check_one_config(path, out) {
            Ok((rule_files, config)) => {
                if !rule_files.is_empty() {
                    let _ = writeln!(out, "  SUCCESS: {} rule files found", rule_files.len());
                }
                let _ = writeln!(
                    out,
                    " SUCCESS: {} is valid prometheus config file syntax",
                    path.display()
                );
                let _ = writeln!(out);
                for warning in config.warnings() {
                    let _ = writeln!(err, "  WARNING: {warning} (accepted, not in effect)");
                }
                outcome.merge(lint_scrape_intervals(&config, err));
                rule_files
            }
            Err(message) => {
                let _ = writeln!(err, "  FAILED: {message}");
                let _ = writeln!(out);
                outcome.merge(Outcome {
                    failed: true,
                    has_errors: true,
                });
                Vec::new()
            }
        };
        outcome.merge(check_rules(&rule_files, out, err));
    }
    outcome.exit_code()
}

/// Checks each rule file; returns the exit code.
pub fn check_rule_files(paths: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    check_rules(paths, out, err).exit_code()
}

fn check_one_config(path: &Path, out: &mut dyn Write) -> Result<(Vec<PathBuf>, Config), String> {
    let config = load_file(path).map_err(|error| error.to_string())?;
    let mut rule_files = Vec::new();
    for pattern in &config.rule_files {
        let matches: Vec<PathBuf> = glob::glob(pattern)
            .map_err(|error| format!("invalid rule file pattern {pattern:?}: {error}"))?
            .filter_map(Result::ok)
            .collect();
        if !pattern.contains('*') && matches.is_empty() {
            return Err(format!("{pattern:?} does not point to an existing file"));
        }
        rule_files.extend(matches);
    }
    for scrape_config in &config.scrape_configs {
        check_client_files(&scrape_config.http_client)?;
        for file_sd_config in &scrape_config.file_sd_configs {
            check_sd_files(
                &file_sd_config.files,
                out,
                &format!("scrape job {:?}", scrape_config.job_name),
            )?;
        }
    }
    for alertmanager in &config.alerting.alertmanagers {
        check_client_files(&alertmanager.http_client)?;
        for file_sd_config in &alertmanager.file_sd_configs {
            check_sd_files(&file_sd_config.files, out, "alertmanager config")?;
        }
    }
    Ok((rule_files, config))
}

/// Credential and TLS files must exist, as promtool checks.
fn check_client_files(http_client: &HttpClientConfig) -> Result<(), String> {
    let mut files: Vec<(&str, &str)> = Vec::new();
    if let Some(authorization) = &http_client.authorization {
        files.push((
            "authorization credentials or bearer token file",
            &authorization.credentials_file,
        ));
    }
    if let Some(basic_auth) = &http_client.basic_auth {
        files.push(("basic_auth password file", &basic_auth.password_file));
        files.push(("basic_auth username file", &basic_auth.username_file));
    }
    files.push(("client cert file", &http_client.tls_config.cert_file));
    files.push(("client key file", &http_client.tls_config.key_file));
    files.push(("CA file", &http_client.tls_config.ca_file));
    for (what, file) in files {
        if !file.is_empty()
            && let Err(error) = std::fs::metadata(file)
        {
            return Err(format!("error checking {what} {file:?}: {error}"));
        }
    }
    Ok(())
}

fn check_sd_files(patterns: &[String], out: &mut dyn Write, owner: &str) -> Result<(), String> {
    for pattern in patterns {
        let matches: Vec<PathBuf> = glob::glob(pattern)
            .map_err(|error| format!("invalid file_sd pattern {pattern:?}: {error}"))?
            .filter_map(Result::ok)
            .collect();
        if matches.is_empty() {
            let _ = writeln!(
                out,
                "  WARNING: file {pattern:?} for file_sd in {owner} does not exist"
            );
            continue;
        }
        for file in matches {
            let groups = read_target_group_file(&file.to_string_lossy())
                .map_err(|error| format!("checking SD file {pattern:?}: {error}"))?;
            for group in &groups {
                for target in &group.targets {
                    let address = target
                        .get(crate::model::labels::ADDRESS_LABEL)
                        .unwrap_or("");
                    if address.contains('/') {
                        return Err(format!(
                            "checking SD file {pattern:?}: {address:?} is not a valid hostname"
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// A scrape interval at or above the lookback delta is a lint finding.
fn lint_scrape_intervals(config: &Config, err: &mut dyn Write) -> Outcome {
    for scrape_config in &config.scrape_configs {
        if scrape_config.scrape_interval.as_duration().as_secs() >= LOOKBACK_DELTA_SECONDS {
            let _ = writeln!(
                err,
                "  FAILED: too long scrape interval found, data point will be marked as stale - job: {}, interval: {}",
                scrape_config.job_name, scrape_config.scrape_interval
            );
            return Outcome {
                failed: true,
                has_errors: false,
            };
        }
    }
    Outcome::default()
}

fn check_rules(paths: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
    let mut outcome = Outcome::default();
    for path in paths {
        let _ = writeln!(out, "Checking {}", path.display());
        match load_rule_file(path) {
            Err(error) => {
                let _ = writeln!(err, "  FAILED:");
                for line in error.lines() {
                    let _ = writeln!(err, "{line}");
                }
                outcome.merge(Outcome {
                    failed: true,
                    has_errors: true,
                });
            }
            Ok(rule_file) => match duplicate_rules_finding(&rule_file) {
                Some(finding) => {
                    let _ = writeln!(err, "  FAILED:");
                    let _ = writeln!(err, "{finding}");
                    outcome.merge(Outcome {
                        failed: true,
                        has_errors: false,
                    });
                }
                None => {
                    let _ = writeln!(out, "  SUCCESS: {} rules found", rule_file.rule_count());
                }
            },
        }
        let _ = writeln!(out);
    }
    outcome
}

/// promtool's `duplicate-rules` lint: rules with the same name and labels.
fn duplicate_rules_finding(rule_file: &RuleFile) -> Option<String> {
    let mut seen: BTreeMap<(String, BTreeMap<String, String>), usize> = BTreeMap::new();
    for group in &rule_file.groups {
        for rule in &group.rules {
            let mut labels = group.labels.clone();
            labels.extend(rule.labels.clone());
            *seen.entry((rule.name().to_string(), labels)).or_default() += 1;
        }
    }
    let duplicates: Vec<_> = seen
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .map(|(key, _)| key)
        .collect();
    if duplicates.is_empty() {
        return None;
    }
    let mut message = format!("{} duplicate rule(s) found.\n", duplicates.len());
    for (metric, labels) in duplicates {
        message.push_str(&format!("Metric: {metric}\nLabel(s):\n"));
        for (name, value) in labels {
            message.push_str(&format!("\t{name}: {value}\n"));
        }
    }
    message.push_str("Might cause inconsistency while recording expressions");
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_config_check(paths: &[PathBuf]) -> (i32, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = check_config_files(paths, &mut out, &mut err);
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    fn write(path: &Path, content: &str) {
        std::fs::write(path, content).unwrap_or_else(|error| panic!("{error}"));
    }

    #[test]
    fn a_good_config_with_rules_and_sd_files_succeeds() {
        let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        write(
            &directory.path().join("rules.yml"),
            "groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: sum(up)\n",
        );
        write(
            &directory.path().join("targets.json"),
            r#"[{"targets": ["a:1"]}]"#,
        );
        let config_path = directory.path().join("prometheus.yml");
        write(
            &config_path,
            "rule_files: [rules.yml]\nscrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [targets.json, missing/*.yml]\n",
        );
        let (code, out, err) = run_config_check(std::slice::from_ref(&config_path));
        assert_eq!(code, SUCCESS_EXIT_CODE, "{out}{err}");
        assert!(out.contains(&format!("Checking {}", config_path.display())));
        assert!(out.contains("  SUCCESS: 1 rule files found"));
        assert!(out.contains(" is valid prometheus config file syntax"));
        assert!(
            out.contains("WARNING: file"),
            "missing SD files are warned about: {out}"
        );
        assert!(out.contains("  SUCCESS: 1 rules found"));
        assert!(err.is_empty(), "{err}");
    }

    #[test]
    fn failures_exit_one_and_name_the_problem() {
        let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        type ExtraFiles<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(&str, ExtraFiles, &str)] = &[
            ("prometheus.yml", &[], "does not point to an existing file"),
            ("bad.yml", &[], "field scrape_timeout"),
            (
                "rules-bad.yml",
                &[(
                    "broken-rules.yml",
                    "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n",
                )],
                "group \"g\", rule 1, \"A\": could not parse expression",
            ),
            (
                "sd-bad.yml",
                &[("bad.json", "[{\"targets\": [")],
                "checking SD file",
            ),
        ];
        let configs = [
            "rule_files: [nope.yml]\n",
            "scrape_configs:\n  - job_name: a\n    scrape_interval: 1s\n    scrape_timeout: 2s\n",
            "rule_files: [broken-rules.yml]\n",
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [bad.json]\n",
        ];
        for ((name, extra_files, expected), content) in cases.iter().zip(configs) {
            for (extra_name, extra_content) in *extra_files {
                write(&directory.path().join(extra_name), extra_content);
            }
            let path = directory.path().join(name);
            write(&path, content);
            let (code, out, err) = run_config_check(&[path]);
            assert_eq!(code, FAILURE_EXIT_CODE, "{name}: {out}{err}");
            assert!(err.contains("FAILED"), "{name}: {err}");
            assert!(err.contains(expected), "{name}: {err}");
        }
    }

    #[test]
    fn lint_findings_are_reported_but_exit_zero() {
        let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let rules_path = directory.path().join("dup.yml");
        write(
            &rules_path,
            "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n      - record: a\n        expr: up\n",
        );
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = check_rule_files(std::slice::from_ref(&rules_path), &mut out, &mut err);
        let err = String::from_utf8_lossy(&err);
        assert_eq!(code, SUCCESS_EXIT_CODE);
        assert!(err.contains("1 duplicate rule(s) found."), "{err}");

        let config_path = directory.path().join("slow.yml");
        write(
            &config_path,
            "scrape_configs:\n  - job_name: slow\n    scrape_interval: 10m\n",
        );
        let (code, _, err) = run_config_check(&[config_path]);
        assert_eq!(code, SUCCESS_EXIT_CODE);
        assert!(err.contains("too long scrape interval"), "{err}");
    }

    #[test]
    fn promtool_fixtures_pass() {
        let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/promtool");
        let (code, out, err) = run_config_check(&[testdata.join("prometheus.example.yml")]);
        assert_eq!(code, SUCCESS_EXIT_CODE, "{out}{err}");
        let mut rules_out = Vec::new();
        let mut rules_err = Vec::new();
        let code = check_rule_files(
            &[testdata.join("rules.yml")],
            &mut rules_out,
            &mut rules_err,
        );
        assert_eq!(
            code,
            SUCCESS_EXIT_CODE,
            "{}",
            String::from_utf8_lossy(&rules_err)
        );
    }
}
