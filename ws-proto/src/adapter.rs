//! What every adapter does the same way around the core.
//!
//! The async drive loop (module `drive`, feature `drive`) and ws-blocking's threads do their
//! I/O differently, but how a server answers an opening request once it is read, how
//! it refuses one, when an idle connection gives its buffers back, which I/O errors
//! mean that the peer went away, and what an accept loop does after a failed accept
//! are one policy. It lives here, once, so that the adapters cannot drift apart.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};

use crate::handshake::{
    UpgradeRequest, accept_response, choose_subprotocol, negotiate_extensions, validate_request,
};
use crate::{Config, Connection, Error, RequestError, Role};

/// A connection that has moved no bytes for this long gives back the memory of its
/// empty buffers: an idle connection costs a few hundred bytes, not the tens of KiB a
/// busy one uses, and a busy one keeps its buffers (no allocation per message).
pub const IDLE_RELEASE: Duration = Duration::from_secs(2);

/// How long a refused client has to take its answer before the transport is dropped.
pub const REFUSE_LINGER: Duration = Duration::from_secs(1);

/// How much of what a refused client still sends is read and dropped, at most: enough
/// for the rest of a request, not enough to keep a thread or task busy for long.
pub const REFUSE_DRAIN: usize = 64 * 1024;

/// How long an accept loop waits after a failed accept before it tries again. The
/// usual failure is running out of file descriptors; the pending connection keeps the
/// listener ready, so retrying at once would spin a core (and flood the error hook)
/// while the shortage lasts.
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(20);

/// The reason of the Close (1001, Going Away) a server's connections send when the
/// server stops.
pub const STOP_REASON: &str = "server stopping";

/// Whether `e` means that the peer is gone rather than that something is broken here:
/// the connection then ends as if the peer had closed TCP. `UnexpectedEof` is a TLS
/// peer that closed TCP without a close_notify; `ConnectionAborted` is what some
/// systems (Windows) report for a peer's abort.
pub fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::NotConnected
            | ErrorKind::UnexpectedEof
    )
}

/// What a server decides about an opening request, whatever reads and writes it.
#[derive(Clone, Copy)]
pub struct AnswerOptions<'a> {
    /// The connection's settings; the extensions offered are negotiated against them.
    pub config: &'a Config,
    /// Run before the upgrade; `false` answers 403 Forbidden.
    pub check_request: &'a (dyn Fn(&Request<()>) -> bool + Send + Sync),
    /// Chooses the subprotocol among those the client offers.
    pub select_subprotocol: &'a (dyn Fn(&[&str]) -> Option<String> + Send + Sync),
    /// Extra fields for the 101 response.
    pub response_headers: &'a HeaderMap,
}

impl std::fmt::Debug for AnswerOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerOptions")
            .field("config", &self.config)
            .field("response_headers", &self.response_headers)
            .finish_non_exhaustive()
    }
}

/// A server's answer to an opening request; its bytes are in the `out` given to
/// [`answer_request`] either way.
#[derive(Debug)]
pub enum Answer {
    /// Write the 101 response, then run the connection.
    Upgrade(Box<Upgraded>),
    /// Write the refusal, then close the transport cleanly (shut down the write side,
    /// and read and drop at most [`REFUSE_DRAIN`] bytes for at most [`REFUSE_LINGER`],
    /// so that the client reads the answer before the connection is reset).
    Refuse(RequestError),
}

/// Writes the refusal of a bad opening request to `out`: the error's status (400,
/// 403, 405, 426, 431) and a short body that says why.
fn write_refusal(error: &RequestError, out: &mut Vec<u8>) {
    let (response, body) = crate::handshake::error_response(error);
    crate::handshake::write_response(&response, &body, out);
}

/// What the opening handshake left behind, which a socket keeps (the adapters'
/// `WebSocket::from_parts` takes it).
#[derive(Debug, Default, Clone)]
pub struct Parts {
    /// The opening request (server side).
    pub request: Option<Request<()>>,
    /// The peer's address, when the transport has one.
    pub peer_addr: Option<SocketAddr>,
    /// The negotiated subprotocol.
    pub subprotocol: Option<String>,
}

/// An accepted upgrade: what the connection starts with.
#[derive(Debug)]
pub struct Upgraded {
    /// The server's side of the conversation, with the extensions agreed.
    pub connection: Connection,
    /// The opening request.
    pub request: Request<()>,
    /// Bytes the client sent after its request: the connection's first input.
    pub leftover: Bytes,
    /// The subprotocol chosen, if any.
    pub subprotocol: Option<String>,
}

/// Answers a read opening request (or the error reading it found): runs the request
/// check, then either accepts (chooses the subprotocol, negotiates the extensions,
/// writes the 101 response to `out`) or writes the refusal with the error's status
/// (400, 403, 405, 426, 431). `now` starts the connection's clock.
pub fn answer_request(
    request: Result<UpgradeRequest, RequestError>,
    options: &AnswerOptions<'_>,
    now: Instant,
    out: &mut Vec<u8>,
) -> Result<Answer, Error> {
    let mut upgrade = match request {
        Ok(upgrade) if (options.check_request)(upgrade.request()) => upgrade,
        Ok(upgrade) => {
            upgrade.reject(&RequestError::Forbidden, out);
            return Ok(Answer::Refuse(RequestError::Forbidden));
        }
        Err(error) => {
            write_refusal(&error, out);
            return Ok(Answer::Refuse(error));
        }
    };
    let subprotocol = upgrade.choose_subprotocol(options.select_subprotocol);
    let extensions = upgrade.negotiate_extensions(options.config);
    upgrade.accept(subprotocol.as_deref(), options.response_headers, out)?;
    let connection =
        Connection::new(Role::Server, options.config.clone(), now).with_extensions(extensions);
    let (request, leftover) = upgrade.into_parts();
    Ok(Answer::Upgrade(Box::new(Upgraded {
        connection,
        request,
        leftover,
        subprotocol,
    })))
}

/// How to answer an opening request that an HTTP server already parsed.
#[derive(Debug, Clone, Default)]
pub struct UpgradeOptions {
    /// The connection settings; the extensions offered are negotiated against them.
    pub config: Config,
    /// The subprotocol to select, if the client offered it.
    pub subprotocol: Option<String>,
    /// Extra fields for the 101 response.
    pub response_headers: HeaderMap,
}

/// [`upgrade_parsed`] with its answer written to `out` as [`answer_request`] writes
/// one: the 101 response, or the refusal of a bad request with its status. `leftover`
/// is what the HTTP server read past the request's head, the connection's first
/// input.
pub fn answer_parsed<B>(
    request: &Request<B>,
    leftover: &[u8],
    options: UpgradeOptions,
    now: Instant,
    out: &mut Vec<u8>,
) -> Result<Answer, Error> {
    match upgrade_parsed(request, options, now) {
        Ok((response, mut up)) => {
            crate::handshake::write_response(&response, &[], out);
            up.leftover = Bytes::copy_from_slice(leftover);
            Ok(Answer::Upgrade(Box::new(up)))
        }
        Err(Error::Request(error)) => {
            write_refusal(&error, out);
            Ok(Answer::Refuse(error))
        }
        Err(e) => Err(e),
    }
}

/// Answers an opening request that an HTTP server already parsed (the OCaml
/// `upgrade_connection`): checks it (RFC 6455 §4.2.1), chooses the subprotocol,
/// negotiates the extensions, and returns the 101 response to send and the connection
/// to run once it is sent (whose `leftover` is empty: bytes the HTTP server read past
/// the request are the caller's to hand over). A bad request gives
/// [`Error::Request`], whose [`RequestError::status`] is the status to answer with.
/// `now` starts the connection's clock.
pub fn upgrade_parsed<B>(
    request: &Request<B>,
    options: UpgradeOptions,
    now: Instant,
) -> Result<(Response<()>, Upgraded), Error> {
    let accept = validate_request(request)?;
    let subprotocol = choose_subprotocol(request, |_| options.subprotocol);
    let mut response_headers = options.response_headers;
    let extensions = negotiate_extensions(request, &options.config, &mut response_headers);
    let response = accept_response(&accept, subprotocol.as_deref(), &response_headers)?;
    let mut head = Request::new(());
    *head.method_mut() = request.method().clone();
    *head.uri_mut() = request.uri().clone();
    *head.version_mut() = request.version();
    *head.headers_mut() = request.headers().clone();
    let connection = Connection::new(Role::Server, options.config, now).with_extensions(extensions);
    Ok((
        response,
        Upgraded {
            connection,
            request: head,
            leftover: Bytes::new(),
            subprotocol,
        },
    ))
}

impl Upgraded {
    /// The connection, its first input, and what a server's socket keeps of the
    /// handshake, with the peer's address.
    pub fn into_parts(self, peer_addr: Option<SocketAddr>) -> (Connection, Bytes, Parts) {
        let parts = Parts {
            request: Some(self.request),
            peer_addr,
            subprotocol: self.subprotocol,
        };
        (self.connection, self.leftover, parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HandshakeLimits;
    use crate::handshake::ServerHandshake;

    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\nextra";

    fn read(bytes: &[u8]) -> Result<UpgradeRequest, RequestError> {
        ServerHandshake::new(HandshakeLimits::default())
            .handle_input(bytes)
            .map(|upgrade| upgrade.expect("a whole request"))
    }

    fn answer(
        request: Result<UpgradeRequest, RequestError>,
        check: bool,
    ) -> (Result<Answer, Error>, String) {
        let config = Config::default();
        let check_request = move |_: &Request<()>| check;
        let select = |offered: &[&str]| offered.last().map(|p| p.to_string());
        let headers = HeaderMap::new();
        let options = AnswerOptions {
            config: &config,
            check_request: &check_request,
            select_subprotocol: &select,
            response_headers: &headers,
        };
        let mut out = Vec::new();
        #[allow(clippy::disallowed_methods)] // a test's origin of time
        let now = Instant::now();
        let answer = answer_request(request, &options, now, &mut out);
        (answer, String::from_utf8(out).expect("an HTTP head"))
    }

    #[test]
    fn a_good_request_is_upgraded_with_the_chosen_subprotocol_and_its_leftover() {
        let (answer, out) = answer(read(REQUEST), true);
        let Ok(Answer::Upgrade(up)) = answer else {
            panic!("not upgraded: {answer:?}");
        };
        assert!(out.starts_with("HTTP/1.1 101"), "{out}");
        assert!(out.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{out}");
        assert!(
            out.to_ascii_lowercase()
                .contains("sec-websocket-protocol: superchat")
        );
        assert_eq!(up.subprotocol.as_deref(), Some("superchat"));
        assert_eq!(&up.leftover[..], b"extra");
        assert_eq!(up.request.uri().path(), "/chat");
    }

    #[test]
    fn a_failed_check_is_refused_with_403() {
        let (answer, out) = answer(read(REQUEST), false);
        assert!(matches!(
            answer,
            Ok(Answer::Refuse(RequestError::Forbidden))
        ));
        assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    }

    #[test]
    fn a_bad_request_is_refused_with_its_status() {
        let bad = b"POST /chat HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let (answer, out) = answer(read(bad), true);
        let Ok(Answer::Refuse(error)) = answer else {
            panic!("not refused: {answer:?}");
        };
        let (response, _) = crate::handshake::error_response(&error);
        assert!(response.status().is_client_error());
        assert!(out.starts_with(&format!("HTTP/1.1 {}", response.status().as_u16())));
    }

    #[test]
    fn a_parsed_request_is_upgraded_or_refused_with_its_status() {
        #[allow(clippy::disallowed_methods)] // a test's origin of time
        let now = Instant::now();
        let request = Request::get("/chat")
            .header("host", "example.com")
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "chat, superchat")
            .body(())
            .unwrap();
        let options = UpgradeOptions {
            subprotocol: Some("chat".into()),
            ..UpgradeOptions::default()
        };
        let (response, up) = upgrade_parsed(&request, options, now).unwrap();
        assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            response.headers()["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        assert_eq!(up.subprotocol.as_deref(), Some("chat"));
        assert_eq!(up.request.headers(), request.headers());

        let mut old = request;
        old.headers_mut().remove("sec-websocket-version");
        let err = upgrade_parsed(&old, UpgradeOptions::default(), now).unwrap_err();
        let Error::Request(error) = err else {
            panic!("{err:?}");
        };
        assert!(error.status().is_client_error(), "{error:?}");
    }

    #[test]
    fn a_peer_going_away_is_told_from_a_local_failure() {
        for kind in [
            ErrorKind::ConnectionReset,
            ErrorKind::ConnectionAborted,
            ErrorKind::BrokenPipe,
            ErrorKind::NotConnected,
            ErrorKind::UnexpectedEof,
        ] {
            assert!(is_disconnect(&kind.into()), "{kind:?}");
        }
        for kind in [ErrorKind::PermissionDenied, ErrorKind::OutOfMemory] {
            assert!(!is_disconnect(&kind.into()), "{kind:?}");
        }
    }
}
