//! The HTTP side: `/metrics` (or `--web.telemetry-path`) and a landing page.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::exposition::TEXT_CONTENT_TYPE;
use crate::host_collector::HostCollector;

/// Why the listen address could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The `--web.listen-address` value is not `[host]:port`.
    #[error("invalid listen address {address:?}: expected [host]:port")]
    InvalidListenAddress {
        /// The value given.
        address: String,
    },
    /// Binding the socket failed.
    #[error("binding {address}: {source}")]
    Bind {
        /// The address tried.
        address: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

/// Builds the router: the collector behind a mutex (one scrape at a time,
/// which also bounds the exporter's CPU use under scrape storms).
pub fn router(collector: HostCollector, telemetry_path: &str) -> Router {
    let shared_collector = Arc::new(Mutex::new(collector));
    let landing_page = Arc::new(landing_page_html(telemetry_path));
    Router::new()
        .route(telemetry_path, get(serve_metrics))
        .with_state(shared_collector)
        .route(
            "/",
            get(move || {
                let landing_page = Arc::clone(&landing_page);
                async move { Html(landing_page.as_str().to_owned()) }
            }),
        )
}

async fn serve_metrics(State(collector): State<Arc<Mutex<HostCollector>>>) -> Response {
    let body = collector
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .collect();
    ([(CONTENT_TYPE, TEXT_CONTENT_TYPE)], body).into_response()
}

fn landing_page_html(telemetry_path: &str) -> String {
    format!(
        "<html><head><title>promshard-exporter</title></head><body>\
         <h1>promshard-exporter</h1><p><a href=\"{telemetry_path}\">Metrics</a></p>\
         </body></html>\n"
    )
}

/// Binds `--web.listen-address` as node_exporter reads it: `:9100` means
/// every interface (IPv6 and IPv4, or IPv4 alone where IPv6 is off);
/// `host:port` binds that host, names resolved.
pub async fn bind(listen_address: &str) -> Result<tokio::net::TcpListener, ServerError> {
    let Some((host, port)) = listen_address.rsplit_once(':') else {
        return Err(ServerError::InvalidListenAddress {
            address: listen_address.to_owned(),
        });
    };
    let Ok(port) = port.parse::<u16>() else {
        return Err(ServerError::InvalidListenAddress {
            address: listen_address.to_owned(),
        });
    };
    if host.is_empty() {
        let every_interface_v6 = SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port));
        if let Ok(listener) = tokio::net::TcpListener::bind(every_interface_v6).await {
            return Ok(listener);
        }
        let every_interface_v4 = SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port));
        return tokio::net::TcpListener::bind(every_interface_v4)
            .await
            .map_err(|source| ServerError::Bind {
                address: listen_address.to_owned(),
                source,
            });
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    tokio::net::TcpListener::bind((host, port))
        .await
        .map_err(|source| ServerError::Bind {
            address: listen_address.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listen_addresses_are_read_as_node_exporter_reads_them() {
        let listener = bind("127.0.0.1:0").await.unwrap();
        assert!(listener.local_addr().unwrap().ip().is_loopback());
        let listener = bind(":0").await.unwrap();
        assert!(listener.local_addr().unwrap().ip().is_unspecified());
        for bad in ["9100", "localhost:http", "127.0.0.1:99999"] {
            assert!(
                matches!(
                    bind(bad).await,
                    Err(ServerError::InvalidListenAddress { .. })
                ),
                "{bad}"
            );
        }
    }
}
