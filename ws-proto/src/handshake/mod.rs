//! The opening handshake (RFC 6455 §4), as two small sans-IO machines on `http` types.
//!
//! - [`ClientHandshake`] builds the request for a `ws://` or `wss://` URI and checks the
//!   server's answer.
//! - [`ServerHandshake`] parses and validates a request, gives the caller an
//!   [`http::Request`] to inspect, and builds the answer: 101, or the error status.
//!
//! Both parse incrementally with `httparse`, bound the head's size and field count, and
//! hand back the bytes that followed the head: they belong to the WebSocket connection.
//! The pieces a server embedded in another HTTP stack needs on their own
//! ([`validate_request`], [`accept_response`], [`write_response`], the origin checks) are
//! public too.

mod client;
mod server;

pub use client::{ClientHandshake, ClientOptions, ClientResponse, Target};
pub use server::{
    ServerHandshake, UpgradeRequest, accept_response, choose_subprotocol, error_response,
    negotiate_extensions, requested_subprotocols, unavailable_response, validate_request,
    write_response,
};

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;
use http::header::{HOST, ORIGIN};
use sha1::{Digest, Sha1};

/// A server's check of an opening request (origin, path, authentication): `false`
/// answers 403 Forbidden. The adapters' servers take one; [`check_origin_with_host`] is
/// their default.
pub type CheckRequest = Arc<dyn Fn(&http::Request<()>) -> bool + Send + Sync>;

/// A server's choice of subprotocol among those the client offers (in its order of
/// preference); a name the client did not offer is ignored ([`choose_subprotocol`]).
pub type SelectSubprotocol = Arc<dyn Fn(&[&str]) -> Option<String> + Send + Sync>;

/// The GUID RFC 6455 §1.3 appends to the key before hashing.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455 §1.3): the
/// base64 of the SHA-1 of the key followed by [`WEBSOCKET_GUID`].
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// The extensions an opening handshake agreed on, for
/// [`Connection::with_extensions`](crate::Connection::with_extensions): what
/// [`UpgradeRequest::negotiate_extensions`] (server) or
/// [`ClientResponse::extensions`] (client) settled. Empty without the `deflate` feature,
/// so an adapter passes it along the same way whatever the features.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extensions {
    /// permessage-deflate, when both sides agreed to it.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateParams>,
}

/// Bounds on the HTTP head of either side, so that a peer cannot make us buffer an
/// endless request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// The longest head, request or status line plus fields, in bytes.
    pub max_head_size: usize,
    /// The most header fields.
    pub max_headers: usize,
}

impl Default for HandshakeLimits {
    /// 16 KiB and 64 fields: room for real browsers' cookies, little for an attacker.
    fn default() -> Self {
        Self {
            max_head_size: 16 << 10,
            max_headers: 64,
        }
    }
}

/// Whether any `name` field holds `token` in its comma-separated list, ignoring ASCII
/// case (how RFC 6455 §4.2.1 reads `Upgrade` and `Connection`).
pub fn header_has_token(
    headers: &HeaderMap,
    name: impl http::header::AsHeaderName,
    token: &str,
) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// The host part of an `Origin` value (`scheme://host[:port]`), lowercased; `None` for
/// `null` or anything unparsable.
fn origin_host(origin: &[u8]) -> Option<String> {
    let uri: http::Uri = std::str::from_utf8(origin).ok()?.trim().parse().ok()?;
    uri.host()
        .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
}

/// The host part of a `Host` value (`host[:port]`, IPv6 in brackets), lowercased.
fn host_without_port(host: &str) -> String {
    let host = host.trim();
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    bare.to_ascii_lowercase()
}

/// The OCaml `check_origin`: `Origin`'s host must be one of `hosts` (ASCII case
/// ignored). A request without `Origin` (not from a browser) passes unless
/// `origin_mandatory`.
pub fn check_origin<B>(request: &http::Request<B>, hosts: &[&str], origin_mandatory: bool) -> bool {
    let mut origins = request.headers().get_all(ORIGIN).iter();
    match (origins.next(), origins.next()) {
        (None, _) => !origin_mandatory,
        (Some(origin), None) => origin_host(origin.as_bytes())
            .is_some_and(|host| hosts.iter().any(|h| h.eq_ignore_ascii_case(&host))),
        (Some(_), Some(_)) => false,
    }
}

/// The server default (the OCaml `check_origin_with_host`): a browser's `Origin` must
/// name the host the request was sent to, which stops other sites' pages from opening
/// connections with the user's cookies (cross-site WebSocket hijacking). A request
/// without `Origin` passes.
pub fn check_origin_with_host<B>(request: &http::Request<B>) -> bool {
    let Some(host) = request.headers().get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = host_without_port(host);
    check_origin(request, &[host.as_str()], false)
}

/// Collects httparse's fields into a `HeaderMap`.
fn to_header_map(fields: &[httparse::Header<'_>]) -> Option<HeaderMap> {
    let mut map = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = http::HeaderName::from_bytes(field.name.as_bytes()).ok()?;
        let value = http::HeaderValue::from_bytes(field.value).ok()?;
        map.append(name, value);
    }
    Some(map)
}

/// Decides whether `buf` (after `new` bytes were added) is worth parsing again: only
/// when a line ended, so that a head trickled in byte by byte is not re-parsed at every
/// byte.
fn worth_parsing(buf: &[u8], new: usize) -> bool {
    buf[buf.len() - new.min(buf.len())..].contains(&b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_1_3_accept_key_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn tokens_are_found_in_comma_lists_ignoring_case() {
        let mut h = HeaderMap::new();
        h.append("connection", "keep-alive, UpGrade".parse().unwrap());
        assert!(header_has_token(&h, "connection", "upgrade"));
        assert!(!header_has_token(&h, "connection", "close"));
        h.append("upgrade", "h2c".parse().unwrap());
        h.append("upgrade", "WebSocket".parse().unwrap());
        assert!(header_has_token(&h, "upgrade", "websocket"));
        assert!(!header_has_token(&h, "upgrade", "web"));
    }

    fn req(host: &str, origin: Option<&str>) -> http::Request<()> {
        let mut b = http::Request::builder().uri("/").header("host", host);
        if let Some(o) = origin {
            b = b.header("origin", o);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn origin_policies() {
        assert!(check_origin_with_host(&req(
            "example.com:8080",
            Some("https://Example.com")
        )));
        assert!(check_origin_with_host(&req("example.com", None)));
        assert!(!check_origin_with_host(&req(
            "example.com",
            Some("https://evil.test")
        )));
        assert!(!check_origin_with_host(&req("example.com", Some("null"))));
        assert!(check_origin_with_host(&req(
            "[::1]:9001",
            Some("http://[::1]:3000")
        )));
        assert!(check_origin(
            &req("a", Some("http://b.test")),
            &["b.test"],
            true
        ));
        assert!(!check_origin(&req("a", None), &["b.test"], true));
        assert!(check_origin(&req("a", None), &["b.test"], false));
        assert!(!check_origin(
            &req("a", Some("http://c.test")),
            &["b.test"],
            false
        ));
    }
}
