//! The client side of the opening handshake reading an arbitrary response.
//!
//! Layout: a flags byte (bits 0-5: the piece size, 0 for all at once; bit 6: offer the
//! subprotocols `chat` and `superchat`; bit 7: replace every `{ACCEPT}` in the response
//! with the right `Sec-WebSocket-Accept` value, so that the fuzzer reaches the success
//! path), then the response.
//!
//! Checks: an accepted response is a 101 carrying exactly one right accept value, a
//! subprotocol only if one was offered, and a leftover that is a suffix of what was fed;
//! a refusal is not a 101; an unfinished head is within the limit.
#![no_main]

use http::header::{SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY};
use libfuzzer_sys::fuzz_target;
use ws_proto::handshake::{ClientHandshake, ClientOptions, accept_key};
use ws_proto::{ResponseError, SeededEntropy};

const PLACEHOLDER: &[u8] = b"{ACCEPT}";

fuzz_target!(|data: &[u8]| {
    let Some((&flags, response)) = data.split_first() else {
        return;
    };
    let mut options = ClientOptions::default();
    if flags & 0x40 != 0 {
        options.subprotocols = vec!["chat".to_owned(), "superchat".to_owned()];
    }
    let uri = "ws://example.com/chat".parse().unwrap();
    let mut hs = ClientHandshake::new(&uri, &options, &mut SeededEntropy::new(1)).unwrap();
    let key = hs.request().headers()[SEC_WEBSOCKET_KEY].as_bytes();
    let accept = accept_key(key);

    let input = if flags & 0x80 != 0 {
        replace_all(response, PLACEHOLDER, accept.as_bytes())
    } else {
        response.to_vec()
    };
    let piece = match usize::from(flags & 0x3f) {
        0 => input.len().max(1),
        n => n,
    };

    let mut fed = 0;
    for chunk in input.chunks(piece) {
        fed += chunk.len();
        match hs.handle_input(chunk) {
            Ok(None) => assert!(fed <= options.limits.max_head_size),
            Ok(Some(r)) => {
                assert_eq!(r.response.status(), 101);
                let mut accepts = r.response.headers().get_all(SEC_WEBSOCKET_ACCEPT).iter();
                let value = accepts.next().expect("an accept value");
                assert!(accepts.next().is_none(), "two accept values");
                assert_eq!(value.as_bytes().trim_ascii(), accept.as_bytes());
                if let Some(p) = &r.subprotocol {
                    assert!(options.subprotocols.contains(p), "{p} was not offered");
                }
                assert!(input[..fed].ends_with(&r.leftover));
                assert!(fed - r.leftover.len() <= options.limits.max_head_size);
                break;
            }
            Err(ResponseError::Rejected(rejection)) => {
                assert_ne!(rejection.status, 101);
                assert!(input[..fed].ends_with(&rejection.body));
                break;
            }
            Err(_) => break,
        }
    }
});

/// `haystack` with every `needle` replaced by `with`.
fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(needle) {
            out.extend_from_slice(with);
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}
