//! Validation: Label names and relabel rules.

use super::*;

/// A label name is valid: any non-empty UTF-8 in Prometheus 3's default
/// scheme; `[a-zA-Z_][a-zA-Z0-9_]*` under the legacy scheme.
pub(crate) fn check_label_name(name: &str, legacy: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("label name is empty".to_string());
    }
    if legacy && !is_legacy_label_name(name) {
        return Err(format!("{name:?} is not a valid label name"));
    }
    Ok(())
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_legacy_label_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
}

pub(super) fn validate_relabel_configs(
    relabel_configs: &[RelabelConfig],
    path: &str,
    legacy_names: bool,
) -> Checked {
    for (position, relabel_config) in relabel_configs.iter().enumerate() {
        validate_relabel_config(relabel_config, legacy_names)
            .map_err(|(field, message)| problem(format!("{path}.{position}.{field}"), message))?;
    }
    Ok(())
}

/// Prometheus's `relabel.Config.Validate`: [`RelabelConfig::validate`]
/// (UTF-8 names), plus the stricter target checks of the legacy scheme.
/// Returns the field at fault and the message.
pub(crate) fn validate_relabel_config(
    config: &RelabelConfig,
    legacy_names: bool,
) -> Result<(), (&'static str, String)> {
    config.validate().map_err(|error| {
        let field = match &error {
            RelabelError::ZeroModulus => "modulus",
            RelabelError::MissingTargetLabel { .. } | RelabelError::InvalidTargetLabel { .. } => {
                "target_label"
            }
            RelabelError::InvalidReplacement { .. }
            | RelabelError::ReplacementNotAllowed { .. } => "replacement",
            RelabelError::OnlySourceAndTarget { .. } | RelabelError::OnlyRegex { .. } => "action",
        };
        (field, error.to_string())
    })?;
    if !legacy_names {
        return Ok(());
    }
    let action_name = config.action.as_str();
    let target_must_be_plain = matches!(
        config.action,
        Action::HashMod
            | Action::Lowercase
            | Action::Uppercase
            | Action::KeepEqual
            | Action::DropEqual
    );
    let target_is_valid = if target_must_be_plain {
        is_legacy_label_name(&config.target_label)
    } else if config.action == Action::Replace {
        is_valid_replace_target(&config.target_label)
    } else {
        true
    };
    if !target_is_valid {
        return Err((
            "target_label",
            format!(
                "{:?} is invalid 'target_label' for {action_name} action",
                config.target_label
            ),
        ));
    }
    Ok(())
}

/// A replace target under legacy names: label-name characters and `$1`,
/// `${name}` references.
pub(super) fn is_valid_replace_target(target: &str) -> bool {
    let without_references = regex_free_replace_target(target);
    !target.is_empty()
        && without_references
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_')
}

pub(super) fn regex_free_replace_target(target: &str) -> String {
    let mut plain = String::new();
    let mut characters = target.chars().peekable();
    while let Some(character) = characters.next() {
        if character != '$' {
            plain.push(character);
            continue;
        }
        if characters.peek() == Some(&'{') {
            for inner in characters.by_ref() {
                if inner == '}' {
                    break;
                }
            }
        } else {
            while characters
                .peek()
                .is_some_and(|next| next.is_ascii_alphanumeric() || *next == '_')
            {
                characters.next();
            }
        }
    }
    plain
}
