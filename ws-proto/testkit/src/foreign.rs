//! Upgrading a request that another HTTP server parsed (the OCaml
//! `upgrade_connection`), the same check for every adapter's `accept_parsed`.
//!
//! A stand-in for that other server accepts on a loopback port, reads a request head,
//! parses it into an `http::Request` by hand (none of the code under test), and hands
//! the stream, the request and the bytes that followed the head to the adapter.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

use ws_proto::frame::Frame;
use ws_proto::{CloseCode, Message};

use crate::client::{RawClient, WAIT};

/// What the adapter does with a parsed request: its `accept_parsed` on the stream,
/// then an echo of every message until the close. A refused request is its error to
/// return (or ignore).
pub type Upgrade = Arc<dyn Fn(TcpStream, http::Request<()>, Vec<u8>) + Send + Sync>;

/// The key of RFC 6455's example, and its accept value.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Starts the stand-in server; every connection is handed to `upgrade` on a thread.
fn foreign_server(upgrade: Upgrade) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let upgrade = upgrade.clone();
            thread::spawn(move || {
                if let Some((request, leftover, stream)) = read_request(stream) {
                    upgrade(stream, request, leftover);
                }
            });
        }
    });
    addr
}

/// Reads a request head and parses it, as a minimal HTTP/1.1 server would.
fn read_request(mut stream: TcpStream) -> Option<(http::Request<()>, Vec<u8>, TcpStream)> {
    stream.set_read_timeout(Some(WAIT)).ok()?;
    let mut input = Vec::new();
    let mut buf = [0u8; 1024];
    let end = loop {
        if let Some(at) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        input.extend_from_slice(&buf[..n]);
    };
    let head = std::str::from_utf8(&input[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let (method, target) = (start.next()?, start.next()?);
    let mut request = http::Request::builder().method(method).uri(target);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        request = request.header(name.trim(), value.trim());
    }
    stream.set_read_timeout(None).ok()?;
    Some((request.body(()).ok()?, input[end + 4..].to_vec(), stream))
}

/// An opening request for `/chat`, with `key` if any.
fn request(addr: SocketAddr, key: Option<&str>) -> String {
    let key = key.map_or(String::new(), |k| format!("Sec-WebSocket-Key: {k}\r\n"));
    format!(
        "GET /chat HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         {key}Sec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// A request that reached the adapter through another server is upgraded: the 101
/// carries the right accept value, a frame sent in the same write as the request
/// (which the other server read past the head) is the first message, messages echo,
/// and the closing handshake completes. A request without a key is refused with 400.
pub fn upgrade_after_another_server_parsed(upgrade: Upgrade) {
    let addr = foreign_server(upgrade);

    let mut client = RawClient::connect(addr);
    client.set_context("a request upgraded after another server parsed it");
    let mut wire = request(addr, Some(KEY)).into_bytes();
    Frame::text("sent with the request").encode(Some([1, 2, 3, 4]), &mut wire);
    client.send_raw(&wire);
    let response = client.read_response();
    assert_eq!(
        response.status,
        http::StatusCode::SWITCHING_PROTOCOLS,
        "{}",
        response.head
    );
    assert_eq!(
        response
            .headers
            .get("sec-websocket-accept")
            .map(|v| v.as_bytes()),
        Some(ACCEPT.as_bytes()),
        "{}",
        response.head
    );
    client.expect_message(&Message::from("sent with the request"));
    let later = Message::from("after the upgrade");
    client.send_message(&later);
    client.expect_message(&later);
    client.send_close(CloseCode::NORMAL, "done");
    client.expect_close(CloseCode::NORMAL);

    let mut refused = RawClient::connect(addr);
    refused.set_context("a request without a key, after another server parsed it");
    refused.send_raw(request(addr, None).as_bytes());
    let response = refused.read_response();
    assert_eq!(
        response.status,
        http::StatusCode::BAD_REQUEST,
        "{}",
        response.head
    );
}
