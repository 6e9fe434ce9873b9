//! `oauth2`: the client credentials grant (RFC 6749 §4.4), as Go's
//! `golang.org/x/oauth2/clientcredentials` behind prometheus/common's
//! round tripper.
//!
//! - The token is cached until 10 s before it expires, then fetched again.
//! - `client_secret_file` is read on every request; a changed secret drops
//!   the cached token.
//! - The client authenticates with HTTP basic auth (id and secret
//!   form-encoded); when the endpoint refuses that, once with the id and
//!   secret in the form instead, and that style is kept.
//! - `scopes` go space-separated in `scope`; `endpoint_params` are added to
//!   the form and may replace `grant_type` but nothing else.

use std::time::{Duration, Instant};

use reqwest::Client;
use tokio::sync::Mutex;

use super::{HttpClientError, client_error, read_trimmed};
use crate::config::http_client::OAuth2;

/// How long before its expiry a token is replaced (Go's `expiryDelta`).
const EXPIRY_DELTA: Duration = Duration::from_secs(10);

/// A fetched token.
#[derive(Debug, Clone)]
struct Token {
    /// The client secret it was fetched with.
    secret: String,
    /// `Bearer` (or the type the endpoint names).
    token_type: String,
    access_token: String,
    expires_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    token: Option<Token>,
    /// The endpoint refused basic auth; send the credentials in the form.
    credentials_in_form: bool,
}

/// Fetches and caches tokens for one client.
#[derive(Debug)]
pub(super) struct TokenSource {
    config: OAuth2,
    client: Client,
    state: Mutex<State>,
}

/// The `Authorization` scheme for a token type, as Go's `Token.Type`.
fn scheme(token_type: &str) -> String {
    match token_type.to_ascii_lowercase().as_str() {
        "" | "bearer" => "Bearer".to_string(),
        "mac" => "MAC".to_string(),
        "basic" => "Basic".to_string(),
        _ => token_type.to_string(),
    }
}

fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl TokenSource {
    pub(super) fn new(config: OAuth2, client: Client) -> Self {
        TokenSource {
            config,
            client,
            state: Mutex::new(State::default()),
        }
    }

    fn secret(&self) -> Result<String, HttpClientError> {
        if self.config.client_secret_file.is_empty() {
            Ok(self.config.client_secret.expose().to_string())
        } else {
            read_trimmed(&self.config.client_secret_file, "oauth2 client_secret_file")
        }
    }

    /// The `Authorization` header value: a cached token or a new one.
    pub(super) async fn header(&self) -> Result<String, HttpClientError> {
        let secret = self.secret()?;
        let mut state = self.state.lock().await;
        if let Some(token) = &state.token {
            let fresh = token
                .expires_at
                .is_none_or(|at| Instant::now() + EXPIRY_DELTA < at);
            if fresh && token.secret == secret {
                return Ok(format!(
                    "{} {}",
                    scheme(&token.token_type),
                    token.access_token
                ));
            }
        }
        state.token = None;
        let token = if state.credentials_in_form {
            self.fetch(&secret, true).await?
        } else {
            match self.fetch(&secret, false).await {
                Ok(token) => token,
                Err(_) => {
                    let token = self.fetch(&secret, true).await?;
                    state.credentials_in_form = true;
                    token
                }
            }
        };
        let header = format!("{} {}", scheme(&token.token_type), token.access_token);
        state.token = Some(token);
        Ok(header)
    }

    fn form(
        &self,
        secret: &str,
        credentials_in_form: bool,
    ) -> Result<Vec<(String, String)>, HttpClientError> {
        let mut form: Vec<(String, String)> =
            vec![("grant_type".to_string(), "client_credentials".to_string())];
        if !self.config.scopes.is_empty() {
            form.push(("scope".to_string(), self.config.scopes.join(" ")));
        }
        for (name, value) in &self.config.endpoint_params {
            match form.iter_mut().find(|(existing, _)| existing == name) {
                Some(entry) if name == "grant_type" => entry.1 = value.clone(),
                Some(_) => {
                    return Err(client_error(format!(
                        "oauth2: cannot overwrite parameter {name:?}"
                    )));
                }
                None => form.push((name.clone(), value.clone())),
            }
        }
        if credentials_in_form {
            form.push(("client_id".to_string(), self.config.client_id.clone()));
            if !secret.is_empty() {
                form.push(("client_secret".to_string(), secret.to_string()));
            }
        }
        Ok(form)
    }

    async fn fetch(
        &self,
        secret: &str,
        credentials_in_form: bool,
    ) -> Result<Token, HttpClientError> {
        let form = self.form(secret, credentials_in_form)?;
        let mut request = self
            .client
            .post(&self.config.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form);
        if !credentials_in_form {
            request = request.basic_auth(
                form_encode(&self.config.client_id),
                Some(form_encode(secret)),
            );
        }
        let cannot_fetch =
            |message: String| client_error(format!("oauth2: cannot fetch token: {message}"));
        let response = request
            .send()
            .await
            .map_err(|e| cannot_fetch(e.to_string()))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response
            .bytes()
            .await
            .map_err(|e| cannot_fetch(e.to_string()))?;
        if !status.is_success() {
            return Err(cannot_fetch(format!(
                "{status}\nResponse: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        let fields = parse_token_response(&content_type, &body)?;
        let access_token = fields
            .access_token
            .filter(|token| !token.is_empty())
            .ok_or_else(|| client_error("oauth2: server response missing access_token"))?;
        Ok(Token {
            secret: secret.to_string(),
            token_type: fields.token_type.unwrap_or_default(),
            access_token,
            expires_at: fields
                .expires_in
                .filter(|seconds| *seconds > 0)
                .map(|seconds| Instant::now() + Duration::from_secs(seconds)),
        })
    }
}

/// The fields of a token response that matter here.
#[derive(Debug, Default, PartialEq)]
struct TokenFields {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<u64>,
}

/// A JSON body, or a form-encoded one when the endpoint says so (GitHub's
/// old style, which Go's client also reads).
fn parse_token_response(content_type: &str, body: &[u8]) -> Result<TokenFields, HttpClientError> {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        || media_type.eq_ignore_ascii_case("text/plain")
    {
        let mut fields = TokenFields::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            match name.as_ref() {
                "access_token" => fields.access_token = Some(value.into_owned()),
                "token_type" => fields.token_type = Some(value.into_owned()),
                "expires_in" => fields.expires_in = value.parse().ok(),
                _ => {}
            }
        }
        return Ok(fields);
    }
    let json: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| client_error(format!("oauth2: cannot parse json: {error}")))?;
    let text = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_string);
    let expires_in = match json.get("expires_in") {
        Some(serde_json::Value::Number(number)) => number
            .as_u64()
            .or_else(|| number.as_f64().map(|f| f as u64)),
        Some(serde_json::Value::String(text)) => text.parse().ok(),
        _ => None,
    };
    Ok(TokenFields {
        access_token: text("access_token"),
        token_type: text("token_type"),
        expires_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_types_map_to_schemes_as_go_does() {
        for (token_type, expected) in [
            ("", "Bearer"),
            ("bearer", "Bearer"),
            ("BEARER", "Bearer"),
            ("mac", "MAC"),
            ("basic", "Basic"),
            ("DPoP", "DPoP"),
        ] {
            assert_eq!(scheme(token_type), expected, "{token_type:?}");
        }
    }

    #[test]
    fn token_responses_parse_as_json_or_form() {
        let json = parse_token_response(
            "application/json; charset=utf-8",
            br#"{"access_token":"a","token_type":"bearer","expires_in":"60"}"#,
        )
        .unwrap();
        assert_eq!(
            json,
            TokenFields {
                access_token: Some("a".into()),
                token_type: Some("bearer".into()),
                expires_in: Some(60),
            }
        );
        let form = parse_token_response(
            "application/x-www-form-urlencoded",
            b"access_token=b%2Fc&expires_in=30",
        )
        .unwrap();
        assert_eq!(form.access_token.as_deref(), Some("b/c"));
        assert_eq!(form.expires_in, Some(30));
        assert!(parse_token_response("application/json", b"<html>").is_err());
    }

    #[test]
    fn endpoint_params_may_replace_grant_type_only() {
        let source = |params: &[(&str, &str)]| {
            TokenSource::new(
                OAuth2 {
                    client_id: "id".into(),
                    token_url: "http://127.0.0.1:1/token".into(),
                    scopes: vec!["a".into(), "b".into()],
                    endpoint_params: params
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..OAuth2::default()
                },
                Client::new(),
            )
        };
        let form = source(&[("grant_type", "custom"), ("audience", "x")])
            .form("s", true)
            .unwrap();
        assert_eq!(
            form,
            [
                ("grant_type", "custom"),
                ("scope", "a b"),
                ("audience", "x"),
                ("client_id", "id"),
                ("client_secret", "s"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let error = source(&[("scope", "c")]).form("s", false).unwrap_err();
        assert!(
            error.0.contains("cannot overwrite parameter \"scope\""),
            "{error}"
        );
    }
}
