//! `--web.config.file`: the exporter-toolkit web configuration that
//! Prometheus reads. promshard supports `basic_auth_users` (bcrypt
//! hashes) and applies it to the write side of the Alertmanager API
//! (creating and expiring silences); TLS settings are refused with a clear
//! error rather than ignored.

use std::collections::BTreeMap;
use std::path::Path;

use axum::http::HeaderMap;
use serde::Deserialize;

/// A web config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file cannot be read.
    #[error("{file}: cannot read web config file: {message}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        message: String,
    },
    /// The YAML is malformed or has an unknown field.
    #[error("{file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A section promshard does not implement.
    #[error("{file}: field {field}: {message}")]
    Unsupported {
        /// The file.
        file: String,
        /// The field.
        field: String,
        /// What to say.
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct WebConfigFile {
    basic_auth_users: BTreeMap<String, String>,
    tls_server_config: Option<serde_json::Value>,
    http_server_config: Option<serde_json::Value>,
}

/// Users allowed to manage silences, with their bcrypt hashes.
#[derive(Debug, Clone, Default)]
pub struct BasicAuthUsers {
    users: BTreeMap<String, String>,
}

impl BasicAuthUsers {
    /// Reads a web config file; `Ok(None)` when it sets no users.
    pub fn load(path: &Path) -> Result<Option<BasicAuthUsers>, WebConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| WebConfigError::Read {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let parsed: WebConfigFile = if text.trim().is_empty() {
            WebConfigFile::default()
        } else {
            serde_saphyr::from_str(&text).map_err(|e| WebConfigError::Parse {
                file: file.clone(),
                message: e.to_string(),
            })?
        };
        for (field, value) in [
            ("tls_server_config", &parsed.tls_server_config),
            ("http_server_config", &parsed.http_server_config),
        ] {
            if value.is_some() {
                return Err(WebConfigError::Unsupported {
                    file,
                    field: field.to_string(),
                    message: "only basic_auth_users is supported".to_string(),
                });
            }
        }
        if parsed.basic_auth_users.is_empty() {
            return Ok(None);
        }
        Ok(Some(BasicAuthUsers {
            users: parsed.basic_auth_users,
        }))
    }

    /// Users from a map of name → bcrypt hash.
    pub fn from_hashes(users: BTreeMap<String, String>) -> Self {
        BasicAuthUsers { users }
    }

    /// Whether the request's `Authorization: Basic` names a user with the
    /// right password.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some((user, password)) = basic_credentials(headers) else {
            return false;
        };
        let Some(hash) = self.users.get(&user) else {
            return false;
        };
        bcrypt::verify(password, hash).unwrap_or(false)
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(decode_base64(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Standard base64 (padding optional); `None` on a bad character.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_checks_bcrypt_hashes() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let users = BasicAuthUsers::from_hashes(BTreeMap::from([("alice".to_string(), hash)]));
        let header = |credentials: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                axum::http::header::AUTHORIZATION,
                credentials.parse().unwrap(),
            );
            headers
        };
        // "alice:secret", "alice:wrong", "bob:secret"
        assert!(users.allows(&header("Basic YWxpY2U6c2VjcmV0")));
        assert!(!users.allows(&header("Basic YWxpY2U6d3Jvbmc=")));
        assert!(!users.allows(&header("Basic Ym9iOnNlY3JldA==")));
        assert!(!users.allows(&header("Bearer x")));
        assert!(!users.allows(&HeaderMap::new()));
    }

    #[test]
    fn tls_settings_are_refused_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, "tls_server_config:\n  cert_file: x\n").unwrap();
        assert!(matches!(
            BasicAuthUsers::load(&path),
            Err(WebConfigError::Unsupported { .. })
        ));
        std::fs::write(&path, "basic_auth_users:\n  alice: $2y$04$x\n").unwrap();
        assert!(BasicAuthUsers::load(&path).unwrap().is_some());
    }
}
