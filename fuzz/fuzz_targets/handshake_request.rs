//! The server side of the opening handshake reading an arbitrary request in arbitrary
//! pieces.
//!
//! Layout: a flags byte (bits 0-2: how many piece-size bytes follow, see
//! [`ws_proto_fuzz::Chunks`]; bit 3: tiny head limits), the size bytes, then the request.
//!
//! Checks: an accepted request passes `validate_request` with the same accept key, can
//! be answered with a 101 (with any subprotocol it offers), keeps as leftover a suffix of
//! what was fed, and fits the head limit; a refused one gets an error status; an
//! unfinished head is within the limit; reading the request all at once decides the same.
#![no_main]

use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use ws_proto::HandshakeLimits;
use ws_proto::handshake::{
    ServerHandshake, UpgradeRequest, accept_key, check_origin_with_host, error_response,
    validate_request, write_response,
};
use ws_proto_fuzz::{Chunks, Reader};

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let flags = r.u8();
    let sizes = r.bytes(usize::from(flags & 7));
    let input = r.rest();
    let mut limits = HandshakeLimits::default();
    if flags & 0x08 != 0 {
        limits.max_head_size = 200;
        limits.max_headers = 6;
    }

    let mut hs = ServerHandshake::new(limits);
    let mut fed = 0;
    let mut piecewise = None;
    for piece in Chunks::new(sizes, input) {
        fed += piece.len();
        match hs.handle_input(piece) {
            Ok(None) => assert!(fed <= limits.max_head_size, "{fed} bytes buffered"),
            Ok(Some(up)) => {
                check_upgrade(&up, &input[..fed], limits);
                piecewise = Some(up);
                break;
            }
            Err(e) => {
                let (response, body) = error_response(&e);
                assert_eq!(response.status(), e.status());
                assert!(response.status().is_client_error(), "{e}: {response:?}");
                let mut out = Vec::new();
                write_response(&response, &body, &mut out);
                let head = format!("HTTP/1.1 {} ", response.status().as_str());
                assert!(out.starts_with(head.as_bytes()));
                assert!(out.ends_with(&body));
                break;
            }
        }
    }

    // The same request read all at once.
    let whole = ServerHandshake::new(limits).handle_input(input);
    match (&piecewise, &whole) {
        (Some(a), Ok(Some(b))) => {
            assert_eq!(a.request().uri(), b.request().uri());
            assert_eq!(a.request().headers(), b.request().headers());
            // The pieces stopped at the piece that ended the head.
            assert!(b.leftover().starts_with(a.leftover()));
            assert_eq!(
                input.len() - b.leftover().len(),
                fed - a.leftover().len(),
                "the head ends at the same byte"
            );
        }
        (Some(_), _) => panic!("accepted piece by piece, not at once: {whole:?}"),
        (None, Ok(Some(_))) if fed == input.len() => {
            panic!("accepted at once, not piece by piece")
        }
        _ => {}
    }
});

fn check_upgrade(up: &UpgradeRequest, fed: &[u8], limits: HandshakeLimits) {
    let request = up.request();
    assert!(
        fed.ends_with(up.leftover()),
        "leftover is not what followed the head"
    );
    assert!(fed.len() - up.leftover().len() <= limits.max_head_size);
    let accept = validate_request(request).expect("an accepted request is valid");
    let key = request.headers()[http::header::SEC_WEBSOCKET_KEY].as_bytes();
    assert_eq!(accept, accept_key(key.trim_ascii()));

    let _ = check_origin_with_host(request);
    let mut out = Vec::new();
    let response = up
        .accept(None, &HeaderMap::new(), &mut out)
        .expect("a 101 without subprotocol");
    assert_eq!(response.status(), 101);
    assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(out.ends_with(b"\r\n\r\n"));
    let line = format!("sec-websocket-accept: {accept}\r\n");
    assert!(
        out.windows(line.len()).any(|w| w == line.as_bytes()),
        "no accept field in {out:?}"
    );
    for protocol in up.subprotocols() {
        let mut out = Vec::new();
        let response = up
            .accept(Some(protocol), &HeaderMap::new(), &mut out)
            .expect("an offered subprotocol can be chosen");
        assert_eq!(
            response.headers()[http::header::SEC_WEBSOCKET_PROTOCOL],
            protocol
        );
    }
}
