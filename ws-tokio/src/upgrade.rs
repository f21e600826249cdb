//! Upgrading a request inside a hyper 1.x server (the OCaml `upgrade_connection`).
//!
//! hyper parses the request and owns the connection; this module checks the request
//! with the core's rules, builds the 101 response for hyper to send, and once hyper
//! hands the connection over, returns a server [`WebSocket`] on it.

use std::future::Future;
use std::pin::Pin;

use http::HeaderMap;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
#[cfg(doc)]
use ws_proto::RequestError;
use ws_proto::drive::{Parts, Runtime};
use ws_proto::handshake::{
    accept_response, choose_subprotocol, negotiate_extensions, validate_request,
};
use ws_proto::{Config, Connection, Role};

use crate::{Error, TokioRuntime, WebSocket};

/// The transport of an upgraded hyper connection.
pub type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

/// The socket of an accepted upgrade, ready once hyper has sent the 101 and handed the
/// connection over.
pub type PendingSocket = Pin<Box<dyn Future<Output = Result<WebSocket<Upgraded>, Error>> + Send>>;

/// How to answer an upgrade request.
#[derive(Debug, Clone, Default)]
pub struct UpgradeOptions {
    /// The connection settings.
    pub config: Config,
    /// The subprotocol to select, if the client offered it.
    pub subprotocol: Option<String>,
    /// Extra fields for the 101 response.
    pub response_headers: HeaderMap,
}

/// Whether `request` asks for a WebSocket upgrade (`Upgrade: websocket`), to route it.
pub fn is_upgrade_request<B>(request: &http::Request<B>) -> bool {
    ws_proto::handshake::header_has_token(request.headers(), http::header::UPGRADE, "websocket")
}

/// Checks `request` (RFC 6455 §4.2.1) and answers it: the 101 response to return from
/// the hyper service, and a future that resolves to the socket once hyper has sent
/// the response and handed the connection over. A bad request gives
/// [`Error::Request`], whose [`RequestError::status`] is the status to answer with
/// ([`error_response`](ws_proto::handshake::error_response) builds the answer).
///
/// Run your own checks (origin, path, authentication) on the request first; the server
/// default is [`check_origin_with_host`](ws_proto::handshake::check_origin_with_host).
pub fn upgrade<B, R: Default>(
    request: &mut http::Request<B>,
    options: UpgradeOptions,
) -> Result<(http::Response<R>, PendingSocket), Error> {
    let accept = validate_request(request)?;
    let subprotocol = choose_subprotocol(request, |_| options.subprotocol);
    let mut response_headers = options.response_headers;
    let extensions = negotiate_extensions(request, &options.config, &mut response_headers);
    let response = accept_response(&accept, subprotocol.as_deref(), &response_headers)?;
    let mut head = http::Request::new(());
    *head.method_mut() = request.method().clone();
    *head.uri_mut() = request.uri().clone();
    *head.version_mut() = request.version();
    *head.headers_mut() = request.headers().clone();
    let on_upgrade: OnUpgrade = hyper::upgrade::on(request);
    let config = options.config;
    let socket = async move {
        let upgraded = on_upgrade
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let conn =
            Connection::new(Role::Server, config, TokioRuntime::now()).with_extensions(extensions);
        let parts = Parts {
            request: Some(head),
            peer_addr: None,
            subprotocol,
        };
        Ok(WebSocket::from_parts(
            TokioIo::new(upgraded),
            conn,
            &[],
            parts,
        ))
    };
    Ok((response.map(|()| R::default()), Box::pin(socket)))
}
