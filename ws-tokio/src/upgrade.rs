//! Upgrading a request inside a hyper 1.x server (the OCaml `upgrade_connection`).
//!
//! hyper parses the request and owns the connection; this module checks the request
//! with the core's rules, builds the 101 response for hyper to send, and once hyper
//! hands the connection over, returns a server [`WebSocket`] on it.

use std::future::Future;
use std::pin::Pin;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
#[cfg(doc)]
use ws_proto::RequestError;
pub use ws_proto::adapter::UpgradeOptions;
use ws_proto::adapter::upgrade_parsed;
use ws_proto::drive::Runtime;

use crate::{Error, TokioRuntime, WebSocket};

/// The transport of an upgraded hyper connection.
pub type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

/// The socket of an accepted upgrade, ready once hyper has sent the 101 and handed the
/// connection over.
pub type PendingSocket = Pin<Box<dyn Future<Output = Result<WebSocket<Upgraded>, Error>> + Send>>;

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
    let (response, up) = upgrade_parsed(request, options, TokioRuntime::now())?;
    let on_upgrade: OnUpgrade = hyper::upgrade::on(request);
    let socket = async move {
        let upgraded = on_upgrade
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let (conn, leftover, parts) = up.into_parts(None);
        Ok(WebSocket::from_parts(
            TokioIo::new(upgraded),
            conn,
            &leftover,
            parts,
        ))
    };
    Ok((response.map(|()| R::default()), Box::pin(socket)))
}
