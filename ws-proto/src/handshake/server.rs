//! The server side of the opening handshake (RFC 6455 §4.2).

use bytes::{Bytes, BytesMut};
use http::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Version};

use super::{HandshakeLimits, accept_key, header_has_token, to_header_map, worth_parsing};
use crate::error::{RequestError, UsageError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Reads an opening request from a client, incrementally.
#[derive(Debug, Default)]
pub struct ServerHandshake {
    buf: BytesMut,
    limits: HandshakeLimits,
}

/// A valid opening request, waiting for the server's decision.
#[derive(Debug)]
pub struct UpgradeRequest {
    request: Request<()>,
    accept: String,
    leftover: Bytes,
    /// The permessage-deflate answer, once negotiated, for the 101.
    #[cfg(feature = "deflate")]
    extensions: Option<HeaderValue>,
}

impl ServerHandshake {
    /// A reader bounded by `limits`.
    pub fn new(limits: HandshakeLimits) -> Self {
        Self {
            buf: BytesMut::new(),
            limits,
        }
    }

    /// Feeds bytes from the client. `Ok(None)`: the head is not complete yet. An error
    /// says which status to answer with ([`RequestError::status`], and
    /// [`error_response`] builds the answer).
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<Option<UpgradeRequest>, RequestError> {
        self.buf.extend_from_slice(bytes);
        let max = self.limits.max_head_size;
        if !worth_parsing(&self.buf, bytes.len()) && self.buf.len() <= max {
            return Ok(None);
        }
        let mut fields = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut parsed = httparse::Request::new(&mut fields);
        let head_len = match parsed.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) if n <= max => n,
            Ok(_) if self.buf.len() <= max => return Ok(None),
            Ok(_) => return Err(RequestError::TooLarge { max }),
            Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
            Err(e) => return Err(RequestError::Malformed(e)),
        };
        let request = to_request(&parsed)?;
        let accept = validate_request(&request)?;
        let leftover = self.buf.split_off(head_len).freeze();
        self.buf = BytesMut::new();
        Ok(Some(UpgradeRequest {
            request,
            accept,
            leftover,
            #[cfg(feature = "deflate")]
            extensions: None,
        }))
    }
}

/// The parsed head as an `http::Request`, before the WebSocket checks.
fn to_request(parsed: &httparse::Request<'_, '_>) -> Result<Request<()>, RequestError> {
    // RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request".
    if parsed.method != Some("GET") {
        return Err(RequestError::MethodNotGet);
    }
    if parsed.version != Some(1) {
        return Err(RequestError::HttpVersion);
    }
    let headers = to_header_map(parsed.headers)
        .ok_or(RequestError::Malformed(httparse::Error::HeaderValue))?;
    let uri: http::Uri = parsed
        .path
        .unwrap_or("/")
        .parse()
        .map_err(|_| RequestError::Malformed(httparse::Error::Token))?;
    let mut request = Request::new(());
    *request.method_mut() = http::Method::GET;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Ok(request)
}

/// Checks an opening request (RFC 6455 §4.2.1) and returns its `Sec-WebSocket-Accept`.
///
/// Works on a request any HTTP stack parsed (hyper's, for an upgrade inside an existing
/// server); [`ServerHandshake`] calls it on what it parsed.
pub fn validate_request<B>(request: &Request<B>) -> Result<String, RequestError> {
    if request.method() != http::Method::GET {
        return Err(RequestError::MethodNotGet);
    }
    if request.version() < Version::HTTP_11 {
        return Err(RequestError::HttpVersion);
    }
    let headers = request.headers();
    if headers.get_all(HOST).iter().count() != 1 {
        return Err(RequestError::Host);
    }
    if !header_has_token(headers, UPGRADE, "websocket") {
        return Err(RequestError::NoUpgradeWebSocket);
    }
    if !header_has_token(headers, CONNECTION, "upgrade") {
        return Err(RequestError::NoConnectionUpgrade);
    }
    // Checked before the key: a client speaking another version learns which one we
    // speak (§4.4) rather than that its key looks wrong.
    let mut versions = headers.get_all(SEC_WEBSOCKET_VERSION).iter();
    match (versions.next(), versions.next()) {
        (Some(v), None) if v.as_bytes().trim_ascii() == b"13" => {}
        _ => return Err(RequestError::UnsupportedVersion),
    }
    let mut keys = headers.get_all(SEC_WEBSOCKET_KEY).iter();
    let key = match (keys.next(), keys.next()) {
        (Some(key), None) => key.as_bytes().trim_ascii(),
        _ => return Err(RequestError::BadKey),
    };
    match BASE64.decode(key) {
        Ok(nonce) if nonce.len() == 16 => Ok(accept_key(key)),
        _ => Err(RequestError::BadKey),
    }
}

/// The subprotocols a request offers, in its order of preference.
pub fn requested_subprotocols<B>(request: &Request<B>) -> Vec<&str> {
    request
        .headers()
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// The subprotocol to answer `request` with: the one `select` picks among those the
/// request offers (in its order of preference), unless it is not one of them; a name the
/// client did not offer is ignored rather than sent.
pub fn choose_subprotocol<B>(
    request: &Request<B>,
    select: impl FnOnce(&[&str]) -> Option<String>,
) -> Option<String> {
    let offered = requested_subprotocols(request);
    select(&offered).filter(|p| offered.contains(&p.as_str()))
}

/// The 101 answer: `accept` from [`validate_request`], the chosen subprotocol if any,
/// and extra fields.
pub fn accept_response(
    accept: &str,
    subprotocol: Option<&str>,
    extra_headers: &HeaderMap,
) -> Result<Response<()>, UsageError> {
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(
        SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(accept).map_err(|_| UsageError::InvalidHeader)?,
    );
    if let Some(protocol) = subprotocol {
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_str(protocol).map_err(|_| UsageError::InvalidHeader)?,
        );
    }
    for (name, value) in extra_headers {
        headers.append(name, value.clone());
    }
    Ok(response)
}

/// The answer to a refused request, with the error as a plain-text body. A wrong
/// version gets `Sec-WebSocket-Version: 13` (RFC 6455 §4.4).
pub fn error_response(error: &RequestError) -> (Response<()>, Bytes) {
    let body = Bytes::from(format!("{error}\n"));
    let mut response = Response::new(());
    *response.status_mut() = error.status();
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    if *error == RequestError::UnsupportedVersion {
        headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
    }
    if *error == RequestError::MethodNotGet {
        headers.insert(http::header::ALLOW, HeaderValue::from_static("GET"));
    }
    (response, body)
}

/// The answer of a server that cannot take one more connection (503 Service
/// Unavailable, `Retry-After: 1`), for an adapter that bounds its connections.
pub fn unavailable_response() -> (Response<()>, Bytes) {
    let body = Bytes::from_static(b"the server is serving its maximum number of connections\n");
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    (response, body)
}

/// [`UpgradeRequest::negotiate_extensions`] for a request another HTTP stack parsed
/// (hyper's): answers the extensions `request` offers as `config` allows, adding the
/// answer to `response_headers` (the 101's fields), and returns what was agreed.
pub fn negotiate_extensions<B>(
    request: &Request<B>,
    config: &crate::Config,
    response_headers: &mut HeaderMap,
) -> super::Extensions {
    let _ = (request, config, &response_headers);
    super::Extensions {
        #[cfg(feature = "deflate")]
        deflate: config.deflate.and_then(|deflate| {
            let offers = request
                .headers()
                .get_all(http::header::SEC_WEBSOCKET_EXTENSIONS);
            let offers = offers.iter().filter_map(|v| v.to_str().ok());
            let (answer, params) = deflate.server_accept(offers)?;
            let answer = HeaderValue::from_str(&answer).ok()?;
            response_headers.insert(http::header::SEC_WEBSOCKET_EXTENSIONS, answer);
            Some(params)
        }),
    }
}

/// Appends a response head (and `body`) in HTTP/1.1 wire form to `out`.
pub fn write_response(response: &Response<()>, body: &[u8], out: &mut Vec<u8>) {
    let status = response.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in response.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

impl UpgradeRequest {
    /// The request, for the caller's checks (origin, path, cookies, subprotocols).
    pub fn request(&self) -> &Request<()> {
        &self.request
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn subprotocols(&self) -> Vec<&str> {
        requested_subprotocols(&self.request)
    }

    /// Answers the extensions the client offers as `config` allows (permessage-deflate,
    /// with the `deflate` feature and [`Config::deflate`](crate::Config) set): the
    /// answer goes into the 101 that [`accept`](Self::accept) writes, and what was
    /// agreed is for [`Connection::with_extensions`](crate::Connection::with_extensions).
    pub fn negotiate_extensions(&mut self, config: &crate::Config) -> super::Extensions {
        let _ = config;
        super::Extensions {
            #[cfg(feature = "deflate")]
            deflate: config.deflate.and_then(|d| self.negotiate_deflate(&d)),
        }
    }

    /// Answers the client's permessage-deflate offers with `config` (RFC 7692 §7.1):
    /// the first valid offer is accepted and the answer goes into the 101 that
    /// [`accept`](Self::accept) writes; `None` when there is nothing to accept (the
    /// connection then runs uncompressed). Hand what it returns to
    /// [`Connection::enable_deflate`](crate::Connection::enable_deflate).
    #[cfg(feature = "deflate")]
    pub fn negotiate_deflate(
        &mut self,
        config: &crate::deflate::DeflateConfig,
    ) -> Option<crate::deflate::DeflateParams> {
        let offers = self
            .request
            .headers()
            .get_all(http::header::SEC_WEBSOCKET_EXTENSIONS);
        let offers = offers.iter().filter_map(|v| v.to_str().ok());
        let (answer, params) = config.server_accept(offers)?;
        self.extensions = Some(HeaderValue::from_str(&answer).ok()?);
        Some(params)
    }

    /// The subprotocol to accept with: what `select` picks among those the client
    /// offers, if the client offered it (see [`choose_subprotocol`]).
    pub fn choose_subprotocol(
        &self,
        select: impl FnOnce(&[&str]) -> Option<String>,
    ) -> Option<String> {
        choose_subprotocol(&self.request, select)
    }

    /// Accepts: the 101 response with `subprotocol` (which must be one the client
    /// offered) and extra fields, in wire form, appended to `out`.
    pub fn accept(
        &self,
        subprotocol: Option<&str>,
        extra_headers: &HeaderMap,
        out: &mut Vec<u8>,
    ) -> Result<Response<()>, UsageError> {
        if let Some(p) = subprotocol {
            if !self.subprotocols().contains(&p) {
                return Err(UsageError::SubprotocolNotOffered);
            }
        }
        #[allow(unused_mut)]
        let mut response = accept_response(&self.accept, subprotocol, extra_headers)?;
        #[cfg(feature = "deflate")]
        if let Some(answer) = &self.extensions {
            response
                .headers_mut()
                .insert(http::header::SEC_WEBSOCKET_EXTENSIONS, answer.clone());
        }
        write_response(&response, &[], out);
        Ok(response)
    }

    /// Refuses with `error`'s status (403 for [`RequestError::Forbidden`]), in wire form.
    pub fn reject(&self, error: &RequestError, out: &mut Vec<u8>) {
        let (response, body) = error_response(error);
        write_response(&response, &body, out);
    }

    /// Bytes the client sent after its request: they belong to the connection.
    pub fn leftover(&self) -> &Bytes {
        &self.leftover
    }

    /// The request and the leftover bytes.
    pub fn into_parts(self) -> (Request<()>, Bytes) {
        (self.request, self.leftover)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn parse(text: &str) -> Result<Option<UpgradeRequest>, RequestError> {
        ServerHandshake::default().handle_input(text.as_bytes())
    }

    #[test]
    fn the_unavailable_answer_is_a_complete_503() {
        let (response, body) = unavailable_response();
        let mut out = Vec::new();
        write_response(&response, &body, &mut out);
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut parsed = httparse::Response::new(&mut headers);
        let head = parsed.parse(&out).unwrap().unwrap();
        assert_eq!(parsed.code, Some(503));
        let length = parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"));
        assert_eq!(
            length.map(|h| h.value),
            Some(body.len().to_string().as_bytes())
        );
        assert_eq!(&out[head..], &body[..]);
    }

    #[test]
    fn rfc_example_request_is_accepted() {
        let up = parse(GOOD).unwrap().unwrap();
        assert_eq!(up.request().uri().path(), "/chat");
        assert_eq!(up.subprotocols(), ["chat", "superchat"]);
        let mut out = Vec::new();
        up.accept(Some("chat"), &HeaderMap::new(), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(text.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(text.contains("sec-websocket-protocol: chat\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
        assert_eq!(
            up.accept(Some("other"), &HeaderMap::new(), &mut Vec::new())
                .unwrap_err(),
            UsageError::SubprotocolNotOffered
        );
    }

    #[test]
    fn byte_at_a_time_and_leftover() {
        let mut hs = ServerHandshake::default();
        let mut wire = GOOD.as_bytes().to_vec();
        wire.extend_from_slice(b"\x81\x80");
        let mut done = None;
        for (i, b) in wire.iter().enumerate() {
            if let Some(up) = hs.handle_input(&[*b]).unwrap() {
                done = Some((i, up));
                break;
            }
        }
        let (i, up) = done.unwrap();
        assert_eq!(i, GOOD.len() - 1);
        assert!(up.leftover().is_empty());
        let up = ServerHandshake::default()
            .handle_input(&wire)
            .unwrap()
            .unwrap();
        assert_eq!(&up.leftover()[..], b"\x81\x80");
    }

    #[test]
    fn each_violation_gets_its_status() {
        let cases: &[(&str, &str, u16)] = &[
            ("GET /chat?x=1 HTTP/1.1", "POST /chat HTTP/1.1", 405),
            ("GET /chat?x=1 HTTP/1.1", "GET /chat HTTP/1.0", 400),
            ("Host: server.example.com\r\n", "", 400),
            (
                "Host: server.example.com\r\n",
                "Host: a\r\nHost: b\r\n",
                400,
            ),
            ("Upgrade: websocket", "Upgrade: h2c", 400),
            ("Connection: Upgrade", "Connection: keep-alive", 400),
            ("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=", 400),
            ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 400),
            ("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", 426),
            ("Sec-WebSocket-Version: 13\r\n", "", 426),
            ("GET /chat?x=1 HTTP/1.1", "GET /chat HTTP/1.1 junk", 400),
        ];
        for (from, to, status) in cases {
            assert!(GOOD.contains(from), "{from}");
            let text = GOOD.replacen(from, to, 1);
            let err = parse(&text).unwrap_err();
            assert_eq!(err.status().as_u16(), *status, "{from} -> {to}: {err}");
        }
    }

    #[test]
    fn wrong_version_answer_names_13() {
        let err = parse(&GOOD.replace("Version: 13", "Version: 7")).unwrap_err();
        let (response, body) = error_response(&err);
        let mut out = Vec::new();
        write_response(&response, &body, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{text}"
        );
        assert!(text.contains("sec-websocket-version: 13\r\n"));
    }

    #[test]
    fn limits_bound_the_head() {
        let mut hs = ServerHandshake::new(HandshakeLimits {
            max_head_size: 1024,
            max_headers: 8,
        });
        let mut result = Ok(None);
        for _ in 0..2048 {
            result = hs.handle_input(b"a");
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result.unwrap_err(), RequestError::TooLarge { max: 1024 });
        let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(2000));
        let mut hs = ServerHandshake::new(HandshakeLimits {
            max_head_size: 1024,
            max_headers: 8,
        });
        assert_eq!(
            hs.handle_input(long_line.as_bytes()).unwrap_err(),
            RequestError::TooLarge { max: 1024 }
        );
        let many = GOOD.replace("\r\n\r\n", &"\r\nX-A: b".repeat(20)) + "\r\n\r\n";
        let mut hs = ServerHandshake::new(HandshakeLimits {
            max_head_size: 4096,
            max_headers: 8,
        });
        assert_eq!(
            hs.handle_input(many.as_bytes()).unwrap_err(),
            RequestError::TooManyHeaders
        );
    }

    #[test]
    fn a_subprotocol_the_client_did_not_offer_is_ignored() {
        let up = parse(GOOD).unwrap().unwrap();
        let pick = |name: &'static str| move |_: &[&str]| Some(name.to_owned());
        assert_eq!(
            up.choose_subprotocol(pick("superchat")).as_deref(),
            Some("superchat")
        );
        assert_eq!(up.choose_subprotocol(pick("other")), None);
        let first = up.choose_subprotocol(|offered| offered.first().map(|p| (*p).to_owned()));
        assert_eq!(first.as_deref(), Some("chat"));
        assert_eq!(up.choose_subprotocol(|_| None), None);
    }
}
