//! Email over SMTP (`lettre`): a plain-text message per notification,
//! subject as Alertmanager's default (`[FIRING:2] alertname ...`).
//!
//! As Alertmanager: `require_tls` (default true) insists on STARTTLS and
//! fails when the server does not offer it; port 465 is SMTPS (TLS from
//! the first byte); `require_tls: false` speaks plain SMTP. Certificates
//! are checked against the system's trust store plus `tls_config.ca_file`.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Integration, Notification};
use crate::config::notify::{EmailConfig, NotifyGlobalConfig};
use crate::notify::NotifyError;

/// Sends mail through an SMTP server.
pub struct EmailIntegration {
    send_resolved: bool,
    to: Vec<String>,
    from: String,
    host: String,
    port: u16,
    hello: String,
    credentials: Option<(String, String)>,
    require_tls: bool,
    tls_config: crate::config::TlsConfig,
    headers: std::collections::BTreeMap<String, String>,
}

fn failure(message: impl Into<String>, retryable: bool) -> NotifyError {
    NotifyError::Delivery {
        integration: "email".into(),
        retryable,
        message: message.into(),
    }
}

impl EmailIntegration {
    /// An email integration; empty fields take `notify.global`'s values.
    pub fn new(config: &EmailConfig, global: &NotifyGlobalConfig) -> Result<Self, NotifyError> {
        let pick = |own: &str, global: &str| {
            if own.is_empty() {
                global.to_string()
            } else {
                own.to_string()
            }
        };
        let smarthost = pick(&config.smarthost, &global.smtp_smarthost);
        let (host, port) = match smarthost.rsplit_once(':') {
            Some((host, port)) => (
                host.trim_matches(['[', ']']).to_string(),
                port.parse::<u16>().map_err(|_| {
                    NotifyError::Config(format!("bad smarthost port in {smarthost:?}"))
                })?,
            ),
            None => {
                return Err(NotifyError::Config(format!(
                    "smarthost {smarthost:?} needs a port"
                )));
            }
        };
        let username = pick(&config.auth_username, &global.smtp_auth_username);
        let password = pick(
            config.auth_password.expose(),
            global.smtp_auth_password.expose(),
        );
        Ok(EmailIntegration {
            send_resolved: config.send_resolved,
            to: config
                .to
                .split(',')
                .map(|address| address.trim().to_string())
                .filter(|address| !address.is_empty())
                .collect(),
            from: pick(&config.from, &global.smtp_from),
            host,
            port,
            hello: pick(&config.hello, &global.smtp_hello),
            credentials: (!username.is_empty()).then_some((username, password)),
            require_tls: config.require_tls.unwrap_or(global.smtp_require_tls),
            tls_config: config.tls_config.clone(),
            headers: config.headers.clone(),
        })
    }

    fn tls_parameters(&self) -> Result<TlsParameters, NotifyError> {
        let server_name = if self.tls_config.server_name.is_empty() {
            self.host.clone()
        } else {
            self.tls_config.server_name.clone()
        };
        let mut builder = TlsParameters::builder(server_name);
        if !self.tls_config.ca_file.is_empty() {
            let pem = std::fs::read(&self.tls_config.ca_file).map_err(|e| {
                failure(
                    format!("cannot read ca_file {:?}: {e}", self.tls_config.ca_file),
                    false,
                )
            })?;
            let certificate = Certificate::from_pem(&pem)
                .map_err(|e| failure(format!("invalid ca_file: {e}"), false))?;
            builder = builder.add_root_certificate(certificate);
        }
        if self.tls_config.insecure_skip_verify {
            builder = builder.dangerous_accept_invalid_certs(true);
        }
        builder
            .build_rustls()
            .map_err(|e| failure(format!("tls setup: {e}"), false))
    }

    /// The message for `notification`.
    pub fn message(&self, notification: &Notification) -> Result<Message, NotifyError> {
        let subject = self
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("subject"))
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| notification.title());
        let from = self
            .from
            .parse()
            .map_err(|e| failure(format!("bad from address {:?}: {e}", self.from), false))?;
        let mut builder = Message::builder().from(from).subject(subject);
        for address in &self.to {
            let mailbox = address
                .parse()
                .map_err(|e| failure(format!("bad to address {address:?}: {e}"), false))?;
            builder = builder.to(mailbox);
        }
        let body = format!(
            "{}\n\n{}\nSent by promshard: {}\n",
            notification.title(),
            notification.text_body(),
            notification.external_url
        );
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| failure(format!("building message: {e}"), false))
    }
}

#[async_trait::async_trait]
impl Integration for EmailIntegration {
    fn name(&self) -> &'static str {
        "email"
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    async fn notify(
        &self,
        notification: &Notification,
        timeout: Duration,
    ) -> Result<(), NotifyError> {
        let message = self.message(notification)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .hello_name(ClientId::Domain(self.hello.clone()))
            .timeout(Some(timeout));
        if self.port == 465 || self.require_tls {
            let parameters = self.tls_parameters()?;
            builder = builder.tls(if self.port == 465 {
                Tls::Wrapper(parameters)
            } else {
                Tls::Required(parameters)
            });
        }
        if let Some((username, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
        }
        let transport = builder.build();
        match tokio::time::timeout(timeout, transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(failure(error.to_string(), !error.is_permanent())),
            Err(_) => Err(failure("smtp delivery timed out", true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::receivers::sample_notification;

    #[test]
    fn email_takes_global_defaults_and_builds_a_subject() {
        let global = NotifyGlobalConfig {
            smtp_smarthost: "127.0.0.1:2525".into(),
            smtp_from: "promshard@example.org".into(),
            ..NotifyGlobalConfig::default()
        };
        let config = EmailConfig {
            to: "a@example.org, b@example.org".into(),
            ..EmailConfig::default()
        };
        let integration = EmailIntegration::new(&config, &global).unwrap();
        assert_eq!(integration.port, 2525);
        assert_eq!(integration.to.len(), 2);
        assert!(integration.require_tls);
        let message = integration.message(&sample_notification()).unwrap();
        let text = String::from_utf8_lossy(&message.formatted()).to_string();
        assert!(text.contains("Subject: [FIRING:1] Down"), "{text}");
        assert!(text.contains("To: a@example.org, b@example.org"), "{text}");
    }
}
