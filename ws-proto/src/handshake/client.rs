//! The client side of the opening handshake (RFC 6455 §4.1).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use http::header::{
    CONNECTION, HOST, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};

use super::{HandshakeLimits, accept_key, header_has_token, to_header_map, worth_parsing};
use crate::entropy::Entropy;
use crate::error::{Rejection, ResponseError, UsageError};

/// What a client asks for besides the URI.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// An `Origin` field, as a browser would send.
    pub origin: Option<String>,
    /// Subprotocols to offer, in order of preference.
    pub subprotocols: Vec<String>,
    /// Extra request fields (cookies, authorization...).
    pub headers: HeaderMap,
    /// Bounds on the response head.
    pub limits: HandshakeLimits,
}

/// Where to connect for a `ws://` or `wss://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host name or address, without IPv6 brackets (ready for name resolution and
    /// TLS server names).
    pub host: String,
    /// The port: the URI's, or 80 for `ws` and 443 for `wss`.
    pub port: u16,
    /// Whether the URI is `wss://`.
    pub tls: bool,
}

impl Target {
    /// The target of a `ws://` or `wss://` URI.
    pub fn from_uri(uri: &Uri) -> Result<Self, UsageError> {
        let tls = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("ws") => false,
            Some(s) if s.eq_ignore_ascii_case("wss") => true,
            _ => return Err(UsageError::InvalidUri),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or(UsageError::InvalidUri)?;
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            tls,
        })
    }

    /// The `Host` field: the host, with the port when it is not the scheme's default
    /// (RFC 6455 §4.1 item 4).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.tls, self.port) {
            (false, 80) | (true, 443) => host,
            (_, port) => format!("{host}:{port}"),
        }
    }
}

/// A client's opening handshake: the request to send, and the check of the answer.
#[derive(Debug)]
pub struct ClientHandshake {
    request: Request<()>,
    expected_accept: String,
    offered: Vec<String>,
    limits: HandshakeLimits,
    buf: BytesMut,
    /// The permessage-deflate offer made, to check the answer against.
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateConfig>,
}

/// The server's accepting answer.
#[derive(Debug)]
pub struct ClientResponse {
    /// The 101 response.
    pub response: Response<()>,
    /// The subprotocol the server chose, if any.
    pub subprotocol: Option<String>,
    /// Bytes after the response head: the first bytes of the connection.
    pub leftover: Bytes,
    /// The extensions the server accepted (permessage-deflate, if offered and not
    /// declined): hand them to
    /// [`Connection::with_extensions`](crate::Connection::with_extensions).
    pub extensions: super::Extensions,
}

impl ClientHandshake {
    /// Builds the request for `uri`, with a fresh `Sec-WebSocket-Key` from `entropy`.
    pub fn new(
        uri: &Uri,
        options: &ClientOptions,
        entropy: &mut dyn Entropy,
    ) -> Result<Self, UsageError> {
        let target = Target::from_uri(uri)?;
        let mut nonce = [0u8; 16];
        entropy.fill(&mut nonce);
        let key = BASE64.encode(nonce);
        let invalid = |_| UsageError::InvalidHeader;

        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut request = Request::new(());
        *request.uri_mut() = path.parse().map_err(|_| UsageError::InvalidUri)?;
        let headers = request.headers_mut();
        headers.insert(
            HOST,
            HeaderValue::from_str(&target.host_header()).map_err(invalid)?,
        );
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(
            SEC_WEBSOCKET_KEY,
            HeaderValue::from_str(&key).map_err(invalid)?,
        );
        headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        if let Some(origin) = &options.origin {
            headers.insert(ORIGIN, HeaderValue::from_str(origin).map_err(invalid)?);
        }
        if !options.subprotocols.is_empty() {
            if options.subprotocols.iter().any(|p| !is_token(p)) {
                return Err(UsageError::InvalidHeader);
            }
            let list = options.subprotocols.join(", ");
            headers.insert(
                SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_str(&list).map_err(invalid)?,
            );
        }
        for (name, value) in &options.headers {
            headers.append(name, value.clone());
        }
        Ok(Self {
            request,
            expected_accept: accept_key(key.as_bytes()),
            offered: options.subprotocols.clone(),
            limits: options.limits,
            buf: BytesMut::new(),
            #[cfg(feature = "deflate")]
            deflate: None,
        })
    }

    /// Offers the extensions `config` asks for (permessage-deflate, with the `deflate`
    /// feature and [`Config::deflate`](crate::Config) set), before
    /// [`write_request`](Self::write_request).
    pub fn offer_extensions(&mut self, config: &crate::Config) {
        #[cfg(feature = "deflate")]
        if let Some(deflate) = config.deflate {
            self.offer_deflate(deflate);
        }
        let _ = config;
    }

    /// Offers permessage-deflate with these settings (before
    /// [`write_request`](Self::write_request)); the answer is checked as RFC 7692
    /// §7.1 says, and [`ClientResponse::extensions`] tells what was agreed.
    #[cfg(feature = "deflate")]
    pub fn offer_deflate(&mut self, config: crate::deflate::DeflateConfig) {
        // The offer is made of tokens and digits only.
        if let Ok(value) = HeaderValue::from_str(&config.client_offer()) {
            self.request
                .headers_mut()
                .insert(SEC_WEBSOCKET_EXTENSIONS, value);
            self.deflate = Some(config);
        }
    }

    /// The request (its URI is the request target: path and query).
    pub fn request(&self) -> &Request<()> {
        &self.request
    }

    /// Appends the request in wire form to `out`.
    pub fn write_request(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.request.uri().to_string().as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in self.request.headers() {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Feeds bytes from the server. `Ok(None)`: the head is not complete yet.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<Option<ClientResponse>, ResponseError> {
        self.buf.extend_from_slice(bytes);
        let max = self.limits.max_head_size;
        if !worth_parsing(&self.buf, bytes.len()) && self.buf.len() <= max {
            return Ok(None);
        }
        let mut fields = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut parsed = httparse::Response::new(&mut fields);
        let head_len = match parsed.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) if n <= max => n,
            Ok(_) if self.buf.len() <= max => return Ok(None),
            Ok(_) => return Err(ResponseError::TooLarge { max }),
            Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyHeaders),
            Err(e) => return Err(ResponseError::Malformed(e)),
        };
        let headers = to_header_map(parsed.headers)
            .ok_or(ResponseError::Malformed(httparse::Error::HeaderValue))?;
        let status = parsed
            .code
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or(ResponseError::Malformed(httparse::Error::Status))?;
        let leftover = self.buf.split_off(head_len).freeze();
        self.buf = BytesMut::new();
        // RFC 6455 §4.1: anything but 101 is handled per HTTP; for us, the end.
        if status != StatusCode::SWITCHING_PROTOCOLS {
            return Err(ResponseError::Rejected(Box::new(Rejection {
                status,
                headers,
                body: leftover,
            })));
        }
        let subprotocol = self.check(&headers)?;
        #[cfg(feature = "deflate")]
        let deflate = self.check_extensions(&headers)?;
        #[cfg(not(feature = "deflate"))]
        self.check_extensions(&headers)?;
        let mut response = Response::new(());
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(Some(ClientResponse {
            response,
            subprotocol,
            leftover,
            extensions: super::Extensions {
                #[cfg(feature = "deflate")]
                deflate,
            },
        }))
    }

    /// The checks of RFC 6455 §4.1 on a 101 answer; returns the chosen subprotocol.
    fn check(&self, headers: &HeaderMap) -> Result<Option<String>, ResponseError> {
        if !header_has_token(headers, UPGRADE, "websocket") {
            return Err(ResponseError::NoUpgradeWebSocket);
        }
        if !header_has_token(headers, CONNECTION, "upgrade") {
            return Err(ResponseError::NoConnectionUpgrade);
        }
        let mut accepts = headers.get_all(SEC_WEBSOCKET_ACCEPT).iter();
        match (accepts.next(), accepts.next()) {
            (Some(a), None) if a.as_bytes().trim_ascii() == self.expected_accept.as_bytes() => {}
            _ => return Err(ResponseError::BadAccept),
        }
        let mut protocols = headers.get_all(SEC_WEBSOCKET_PROTOCOL).iter();
        match (protocols.next(), protocols.next()) {
            (None, _) => Ok(None),
            (Some(p), None) => {
                let p = p
                    .to_str()
                    .map_err(|_| ResponseError::UnexpectedSubprotocol)?
                    .trim();
                if self.offered.iter().any(|o| o == p) {
                    Ok(Some(p.to_owned()))
                } else {
                    Err(ResponseError::UnexpectedSubprotocol)
                }
            }
            _ => Err(ResponseError::UnexpectedSubprotocol),
        }
    }
}

impl ClientHandshake {
    /// The server may use only the extension we offered, as RFC 7692 allows.
    #[cfg(feature = "deflate")]
    fn check_extensions(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<crate::deflate::DeflateParams>, ResponseError> {
        let answers = headers.get_all(SEC_WEBSOCKET_EXTENSIONS);
        match &self.deflate {
            Some(config) => {
                let values: Vec<&str> = answers
                    .iter()
                    .map(|v| v.to_str().map_err(|_| ResponseError::UnexpectedExtension))
                    .collect::<Result<_, _>>()?;
                config
                    .client_check(values)
                    .map_err(|_| ResponseError::UnexpectedExtension)
            }
            None if answers.iter().next().is_some() => Err(ResponseError::UnexpectedExtension),
            None => Ok(None),
        }
    }

    /// We offer no extension, so the server may not use one.
    #[cfg(not(feature = "deflate"))]
    fn check_extensions(&self, headers: &HeaderMap) -> Result<(), ResponseError> {
        if headers.contains_key(SEC_WEBSOCKET_EXTENSIONS) {
            return Err(ResponseError::UnexpectedExtension);
        }
        Ok(())
    }
}

/// An HTTP token (RFC 9110 §5.6.2), which subprotocol names must be.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    fn handshake(uri: &str, options: &ClientOptions) -> ClientHandshake {
        ClientHandshake::new(&uri.parse().unwrap(), options, &mut SeededEntropy::new(1)).unwrap()
    }

    fn answer(hs: &ClientHandshake, extra: &str) -> String {
        let key = hs.request().headers()[SEC_WEBSOCKET_KEY].to_str().unwrap();
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{extra}\r\n",
            accept_key(key.as_bytes())
        )
    }

    #[test]
    fn request_carries_what_rfc_4_1_asks() {
        let options = ClientOptions {
            origin: Some("http://example.com".into()),
            subprotocols: vec!["chat".into(), "superchat".into()],
            ..ClientOptions::default()
        };
        let hs = handshake("ws://example.com:8080/chat?room=1", &options);
        let mut out = Vec::new();
        hs.write_request(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("GET /chat?room=1 HTTP/1.1\r\nhost: example.com:8080\r\n"),
            "{text}"
        );
        for line in [
            "upgrade: websocket",
            "connection: Upgrade",
            "sec-websocket-version: 13",
            "origin: http://example.com",
            "sec-websocket-protocol: chat, superchat",
        ] {
            assert!(text.contains(&format!("{line}\r\n")), "{line} in {text}");
        }
        let key = hs.request().headers()[SEC_WEBSOCKET_KEY].as_bytes();
        assert_eq!(BASE64.decode(key).unwrap().len(), 16);
    }

    #[test]
    fn targets_and_default_ports() {
        let t = Target::from_uri(&"wss://example.com/x".parse().unwrap()).unwrap();
        assert_eq!(
            (t.port, t.tls, t.host_header()),
            (443, true, "example.com".to_owned())
        );
        let t = Target::from_uri(&"ws://[::1]:9001".parse().unwrap()).unwrap();
        assert_eq!(
            (t.host.as_str(), t.host_header()),
            ("::1", "[::1]:9001".to_owned())
        );
        assert!(Target::from_uri(&"http://example.com".parse().unwrap()).is_err());
        let hs = handshake("ws://h", &ClientOptions::default());
        assert_eq!(hs.request().uri(), "/");
    }

    #[test]
    fn accepts_a_good_answer_and_keeps_the_leftover() {
        let options = ClientOptions {
            subprotocols: vec!["chat".into()],
            ..ClientOptions::default()
        };
        let mut hs = handshake("ws://h/", &options);
        let wire = answer(&hs, "Sec-WebSocket-Protocol: chat\r\n") + "\u{1}rest";
        let mut done = None;
        for chunk in wire.as_bytes().chunks(3) {
            if let Some(r) = hs.handle_input(chunk).unwrap() {
                done = Some(r);
                break;
            }
        }
        let r = done.unwrap();
        assert_eq!(r.subprotocol.as_deref(), Some("chat"));
        assert!(b"\x01rest".starts_with(&r.leftover));
    }

    #[test]
    fn refuses_bad_answers() {
        let hs = handshake("ws://h/", &ClientOptions::default());
        let good = answer(&hs, "");
        let cases: Vec<(String, ResponseError)> = vec![
            (
                good.replace("Upgrade: websocket", "Upgrade: h2c"),
                ResponseError::NoUpgradeWebSocket,
            ),
            (
                good.replace("Connection: Upgrade", "Connection: close"),
                ResponseError::NoConnectionUpgrade,
            ),
            (
                good.replace("Accept: ", "Accept: x"),
                ResponseError::BadAccept,
            ),
            (
                answer(&hs, "Sec-WebSocket-Protocol: chat\r\n"),
                ResponseError::UnexpectedSubprotocol,
            ),
            (
                answer(&hs, "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
                ResponseError::UnexpectedExtension,
            ),
        ];
        for (wire, want) in cases {
            let mut hs = handshake("ws://h/", &ClientOptions::default());
            assert_eq!(
                hs.handle_input(wire.as_bytes()).unwrap_err(),
                want,
                "{wire}"
            );
        }
    }

    #[test]
    fn a_refusal_carries_status_headers_and_body() {
        let mut hs = handshake("ws://h/", &ClientOptions::default());
        let err = hs
            .handle_input(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope")
            .unwrap_err();
        let ResponseError::Rejected(rejection) = err else {
            panic!("{err:?}");
        };
        let Rejection {
            status,
            headers,
            body,
        } = *rejection;
        assert_eq!((status.as_u16(), &body[..]), (403, &b"nope"[..]));
        assert_eq!(headers["content-length"], "4");
    }
}
