//! The HTTP client settings shared by scrape configs, HTTP SD, remote
//! write/read and Alertmanager configs (Prometheus's `common/config`
//! `HTTPClientConfig`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A secret string: kept as written, shown as `<secret>` when serialized.
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret's value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when nothing was configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<secret>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0.is_empty() { "" } else { "<secret>" })
    }
}

/// `basic_auth`: a user name and password, each inline or from a file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// A file holding the user name (resolved against the config's directory).
    pub username_file: String,
    /// The password.
    pub password: Secret,
    /// A file holding the password (resolved against the config's directory).
    pub password_file: String,
}

/// `authorization`: the `Authorization` header's type and credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Authorization {
    /// The scheme, `Bearer` by default.
    #[serde(rename = "type")]
    pub auth_type: String,
    /// The credentials.
    pub credentials: Secret,
    /// A file holding the credentials (resolved against the config's directory).
    pub credentials_file: String,
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization {
            auth_type: "Bearer".to_string(),
            credentials: Secret::default(),
            credentials_file: String::new(),
        }
    }
}

/// A TLS protocol version as Prometheus names them (`TLS12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.0.
    TLS10,
    /// TLS 1.1.
    TLS11,
    /// TLS 1.2.
    TLS12,
    /// TLS 1.3.
    TLS13,
}

/// `tls_config`: CA, client certificate and verification settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The CA certificate, inline PEM.
    pub ca: String,
    /// The CA certificate file.
    pub ca_file: String,
    /// The client certificate, inline PEM.
    pub cert: String,
    /// The client certificate file.
    pub cert_file: String,
    /// The client key, inline PEM.
    pub key: Secret,
    /// The client key file.
    pub key_file: String,
    /// The server name to verify (SNI).
    pub server_name: String,
    /// Skip verification of the server's certificate.
    pub insecure_skip_verify: bool,
    /// The lowest TLS version accepted.
    pub min_version: Option<TlsVersion>,
    /// The highest TLS version accepted.
    pub max_version: Option<TlsVersion>,
}

/// `oauth2`: an access token fetched from `token_url` with the client
/// credentials grant and sent as `Authorization: Bearer`. The token
/// request has its own TLS and proxy settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuth2 {
    /// The client ID.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// A file holding the client secret, re-read on every request.
    pub client_secret_file: String,
    /// The grant: `client_credentials` (any value but the JWT bearer one).
    pub grant_type: String,
    /// The key ID of a JWT bearer assertion (JWT bearer grant only).
    pub client_certificate_key_id: String,
    /// The key signing a JWT bearer assertion (JWT bearer grant only).
    pub client_certificate_key: Secret,
    /// A file holding that key (JWT bearer grant only).
    pub client_certificate_key_file: String,
    /// The assertion's signature algorithm (JWT bearer grant only).
    pub signature_algorithm: String,
    /// The assertion's issuer (JWT bearer grant only).
    pub iss: String,
    /// The assertion's audience (JWT bearer grant only).
    pub audience: String,
    /// Extra assertion claims (JWT bearer grant only).
    pub claims: BTreeMap<String, serde_json::Value>,
    /// Scopes asked for, sent space-separated.
    pub scopes: Vec<String>,
    /// The token endpoint.
    pub token_url: String,
    /// Extra form parameters of the token request.
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS settings of the token request.
    pub tls_config: TlsConfig,
    /// A proxy for the token request.
    pub proxy_url: String,
    /// Comma-separated hosts that bypass that proxy.
    pub no_proxy: String,
    /// Use the proxy from the environment for the token request.
    pub proxy_from_environment: bool,
    /// Headers sent to that proxy.
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// The grant type Prometheus names for RFC 7523 JWT bearer assertions.
pub const GRANT_TYPE_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

impl OAuth2 {
    /// The token request's own client settings (TLS and proxy only).
    pub fn token_client_config(&self) -> HttpClientConfig {
        HttpClientConfig {
            tls_config: self.tls_config.clone(),
            proxy_url: self.proxy_url.clone(),
            no_proxy: self.no_proxy.clone(),
            proxy_from_environment: self.proxy_from_environment,
            proxy_connect_header: self.proxy_connect_header.clone(),
            ..HttpClientConfig::default()
        }
    }
}

/// One header's values, inline, secret or from files (`http_headers`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderValues {
    /// Plain values.
    pub values: Vec<String>,
    /// Secret values.
    pub secrets: Vec<Secret>,
    /// Files whose contents are values (resolved against the config's directory).
    pub files: Vec<String>,
}

/// The HTTP client settings; every field has Prometheus's name and default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpClientConfig {
    /// Basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// The `Authorization` header.
    pub authorization: Option<Authorization>,
    /// OAuth 2.0 client credentials.
    pub oauth2: Option<OAuth2>,
    /// Deprecated form of `authorization.credentials` (still accepted).
    pub bearer_token: Secret,
    /// Deprecated form of `authorization.credentials_file` (still accepted).
    pub bearer_token_file: String,
    /// TLS settings.
    pub tls_config: TlsConfig,
    /// Follow HTTP 3xx redirects; default true.
    pub follow_redirects: bool,
    /// Allow HTTP/2; default true.
    pub enable_http2: bool,
    /// A proxy URL.
    pub proxy_url: String,
    /// Comma-separated hosts that bypass the proxy.
    pub no_proxy: String,
    /// Use the proxy from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`.
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy on CONNECT.
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
    /// Extra headers on every request.
    pub http_headers: BTreeMap<String, HeaderValues>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: Secret::default(),
            bearer_token_file: String::new(),
            tls_config: TlsConfig::default(),
            follow_redirects: true,
            enable_http2: true,
            proxy_url: String::new(),
            no_proxy: String::new(),
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
            http_headers: BTreeMap::new(),
        }
    }
}

/// A problem in an HTTP client config: the field (relative to the client
/// config) and the message.
pub(crate) type FieldProblem = (&'static str, String);

impl HttpClientConfig {
    /// Checks the rules Prometheus's `HTTPClientConfig.Validate` applies and
    /// folds `bearer_token`/`bearer_token_file` into `authorization`.
    pub(crate) fn validate_and_normalize(&mut self) -> Result<(), FieldProblem> {
        if !self.bearer_token.is_empty() && !self.bearer_token_file.is_empty() {
            return Err((
                "bearer_token",
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            ));
        }
        let has_bearer = !self.bearer_token.is_empty() || !self.bearer_token_file.is_empty();
        if (self.basic_auth.is_some() || self.oauth2.is_some()) && has_bearer {
            return Err(("basic_auth", "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".into()));
        }
        if let Some(basic_auth) = &self.basic_auth {
            if !basic_auth.username.is_empty() && !basic_auth.username_file.is_empty() {
                return Err((
                    "basic_auth",
                    "at most one of basic_auth username & username_file must be configured".into(),
                ));
            }
            if !basic_auth.password.is_empty() && !basic_auth.password_file.is_empty() {
                return Err((
                    "basic_auth",
                    "at most one of basic_auth password & password_file must be configured".into(),
                ));
            }
        }
        if let Some(authorization) = &mut self.authorization {
            if has_bearer {
                return Err((
                    "authorization",
                    "authorization is not compatible with bearer_token & bearer_token_file".into(),
                ));
            }
            if !authorization.credentials.is_empty() && !authorization.credentials_file.is_empty() {
                return Err(("authorization", "at most one of authorization credentials & credentials_file must be configured".into()));
            }
            if authorization.auth_type.trim().is_empty() {
                authorization.auth_type = "Bearer".to_string();
            }
            if authorization.auth_type.trim().eq_ignore_ascii_case("basic") {
                return Err((
                    "authorization",
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                        .into(),
                ));
            }
            if self.basic_auth.is_some() || self.oauth2.is_some() {
                return Err((
                    "authorization",
                    "at most one of basic_auth, oauth2 & authorization must be configured".into(),
                ));
            }
        }
        if let Some(oauth2) = &self.oauth2 {
            if self.basic_auth.is_some() {
                return Err((
                    "oauth2",
                    "at most one of basic_auth, oauth2 & authorization must be configured".into(),
                ));
            }
            validate_oauth2(oauth2)?;
        }
        if has_bearer {
            self.authorization = Some(Authorization {
                auth_type: "Bearer".to_string(),
                credentials: std::mem::take(&mut self.bearer_token),
                credentials_file: std::mem::take(&mut self.bearer_token_file),
            });
        }
        validate_tls(&self.tls_config)?;
        validate_proxy(&self.proxy_url, &self.no_proxy, self.proxy_from_environment)?;
        for name in self.http_headers.keys() {
            if RESERVED_HTTP_HEADERS
                .iter()
                .any(|reserved| reserved.eq_ignore_ascii_case(name))
            {
                return Err((
                    "http_headers",
                    format!("setting header {name:?} is not allowed"),
                ));
            }
        }
        Ok(())
    }

    /// Makes every file path absolute against `directory`, as Prometheus's
    /// `SetDirectory` does.
    pub(crate) fn resolve_paths(&mut self, directory: &Path) {
        if let Some(basic_auth) = &mut self.basic_auth {
            join_directory(directory, &mut basic_auth.username_file);
            join_directory(directory, &mut basic_auth.password_file);
        }
        if let Some(authorization) = &mut self.authorization {
            join_directory(directory, &mut authorization.credentials_file);
        }
        if let Some(oauth2) = &mut self.oauth2 {
            join_directory(directory, &mut oauth2.client_secret_file);
            join_directory(directory, &mut oauth2.client_certificate_key_file);
            resolve_tls_paths(directory, &mut oauth2.tls_config);
        }
        join_directory(directory, &mut self.bearer_token_file);
        resolve_tls_paths(directory, &mut self.tls_config);
        for header in self.http_headers.values_mut() {
            for file in &mut header.files {
                join_directory(directory, file);
            }
        }
    }
}

/// The `tls_config` rules of Prometheus's `TLSConfig.Validate`.
fn validate_tls(tls: &TlsConfig) -> Result<(), FieldProblem> {
    let problem = |message: &str| Err(("tls_config", message.to_string()));
    if !tls.ca.is_empty() && !tls.ca_file.is_empty() {
        return problem("at most one of ca and ca_file must be configured");
    }
    if !tls.cert.is_empty() && !tls.cert_file.is_empty() {
        return problem("at most one of cert and cert_file must be configured");
    }
    if !tls.key.is_empty() && !tls.key_file.is_empty() {
        return problem("at most one of key and key_file must be configured");
    }
    let has_cert = !tls.cert.is_empty() || !tls.cert_file.is_empty();
    let has_key = !tls.key.is_empty() || !tls.key_file.is_empty();
    if has_cert != has_key {
        return problem(
            "exactly one of key or key_file must be configured when a client certificate is configured",
        );
    }
    if let (Some(min), Some(max)) = (tls.min_version, tls.max_version)
        && min > max
    {
        return problem("min_version must be less than or equal to max_version");
    }
    Ok(())
}

/// The proxy rules of Prometheus's `ProxyConfig.Validate`.
fn validate_proxy(
    proxy_url: &str,
    no_proxy: &str,
    from_environment: bool,
) -> Result<(), FieldProblem> {
    if from_environment && !proxy_url.is_empty() {
        return Err((
            "proxy_url",
            "if proxy_from_environment is configured, proxy_url must not be configured".into(),
        ));
    }
    if from_environment && !no_proxy.is_empty() {
        return Err((
            "no_proxy",
            "if proxy_from_environment is configured, no_proxy must not be configured".into(),
        ));
    }
    if !no_proxy.is_empty() && proxy_url.is_empty() {
        return Err((
            "no_proxy",
            "if no_proxy is configured, proxy_url must also be configured".into(),
        ));
    }
    if !proxy_url.is_empty()
        && let Err(error) = url::Url::parse(proxy_url)
    {
        return Err((
            "proxy_url",
            format!("invalid proxy_url {proxy_url:?}: {error}"),
        ));
    }
    Ok(())
}

/// The `oauth2` rules of Prometheus's `HTTPClientConfig.Validate`; the JWT
/// bearer grant is refused by name (not built).
fn validate_oauth2(oauth2: &OAuth2) -> Result<(), FieldProblem> {
    let problem = |message: String| Err(("oauth2", message));
    if oauth2.grant_type == GRANT_TYPE_JWT_BEARER {
        return problem(format!(
            "oauth2 grant_type {GRANT_TYPE_JWT_BEARER} is not supported by promshard (only client_credentials)"
        ));
    }
    if oauth2.client_id.is_empty() {
        return problem("oauth2 client_id must be configured".into());
    }
    if oauth2.token_url.is_empty() {
        return problem("oauth2 token_url must be configured".into());
    }
    if !oauth2.client_secret.is_empty() && !oauth2.client_secret_file.is_empty() {
        return problem("at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured using grant-type=client_credentials".into());
    }
    if let Err(error) = url::Url::parse(&oauth2.token_url) {
        return problem(format!(
            "invalid oauth2 token_url {:?}: {error}",
            oauth2.token_url
        ));
    }
    validate_tls(&oauth2.tls_config).map_err(|(_, message)| ("oauth2", message))?;
    validate_proxy(
        &oauth2.proxy_url,
        &oauth2.no_proxy,
        oauth2.proxy_from_environment,
    )
    .map_err(|(_, message)| ("oauth2", message))
}

/// Headers Prometheus's HTTP client refuses in `http_headers`.
const RESERVED_HTTP_HEADERS: [&str; 10] = [
    "authorization",
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
];

fn resolve_tls_paths(directory: &Path, tls: &mut TlsConfig) {
    join_directory(directory, &mut tls.ca_file);
    join_directory(directory, &mut tls.cert_file);
    join_directory(directory, &mut tls.key_file);
}

/// Joins a relative, non-empty path onto `directory` (Prometheus's `JoinDir`).
pub(crate) fn join_directory(directory: &Path, path: &mut String) {
    if path.is_empty() || Path::new(path.as_str()).is_absolute() || directory.as_os_str().is_empty()
    {
        return;
    }
    *path = directory.join(path.as_str()).to_string_lossy().into_owned();
}

/// Declares a config struct whose YAML mapping also holds the HTTP client
/// fields inline (as Prometheus's `yaml:",inline"`), while the Rust struct
/// keeps them together in `http_client`.
///
/// serde cannot combine `flatten` with `deny_unknown_fields`, so the macro
/// emits a private flat twin that is deserialized strictly (keeping exact
/// error positions) and converted. Defaults come from the public struct's
/// `Default`, the single source.
macro_rules! config_struct_with_http_client {
    (
        $(#[$struct_meta:meta])*
        pub struct $public:ident / $raw:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $field_type:ty ),* $(,)?
        }
    ) => {
        $(#[$struct_meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        pub struct $public {
            $( $(#[$field_meta])* pub $field: $field_type, )*
            /// The HTTP client settings, written inline in the YAML mapping.
            #[serde(flatten)]
            pub http_client: $crate::config::http_client::HttpClientConfig,
        }

        #[derive(serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        struct $raw {
            $( $(#[$field_meta])* $field: $field_type, )*
            basic_auth: Option<$crate::config::http_client::BasicAuth>,
            authorization: Option<$crate::config::http_client::Authorization>,
            oauth2: Option<$crate::config::http_client::OAuth2>,
            bearer_token: $crate::config::http_client::Secret,
            bearer_token_file: String,
            tls_config: $crate::config::http_client::TlsConfig,
            follow_redirects: bool,
            enable_http2: bool,
            proxy_url: String,
            no_proxy: String,
            proxy_from_environment: bool,
            proxy_connect_header: std::collections::BTreeMap<String, Vec<$crate::config::http_client::Secret>>,
            http_headers: std::collections::BTreeMap<String, $crate::config::http_client::HeaderValues>,
        }

        impl Default for $raw {
            fn default() -> Self {
                let defaults = $public::default();
                let http = defaults.http_client;
                $raw {
                    $( $field: defaults.$field, )*
                    basic_auth: http.basic_auth,
                    authorization: http.authorization,
                    oauth2: http.oauth2,
                    bearer_token: http.bearer_token,
                    bearer_token_file: http.bearer_token_file,
                    tls_config: http.tls_config,
                    follow_redirects: http.follow_redirects,
                    enable_http2: http.enable_http2,
                    proxy_url: http.proxy_url,
                    no_proxy: http.no_proxy,
                    proxy_from_environment: http.proxy_from_environment,
                    proxy_connect_header: http.proxy_connect_header,
                    http_headers: http.http_headers,
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $public {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <$raw as serde::Deserialize>::deserialize(deserializer).map(Self::from)
            }
        }

        impl From<$raw> for $public {
            fn from(raw: $raw) -> Self {
                $public {
                    $( $field: raw.$field, )*
                    http_client: $crate::config::http_client::HttpClientConfig {
                        basic_auth: raw.basic_auth,
                        authorization: raw.authorization,
                        oauth2: raw.oauth2,
                        bearer_token: raw.bearer_token,
                        bearer_token_file: raw.bearer_token_file,
                        tls_config: raw.tls_config,
                        follow_redirects: raw.follow_redirects,
                        enable_http2: raw.enable_http2,
                        proxy_url: raw.proxy_url,
                        no_proxy: raw.no_proxy,
                        proxy_from_environment: raw.proxy_from_environment,
                        proxy_connect_header: raw.proxy_connect_header,
                        http_headers: raw.http_headers,
                    },
                }
            }
        }
    };
}

pub(crate) use config_struct_with_http_client;
