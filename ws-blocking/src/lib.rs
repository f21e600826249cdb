//! WebSocket (RFC 6455) client and server on `std::net`, one thread per connection.
//!
//! A thin driver of the [`ws_proto`] sans-IO core: every protocol decision (framing,
//! masking, UTF-8, ping and close answers, limits, timers) is made there, and this
//! crate only moves bytes and reads the clock. A blocked read is bounded by the
//! connection's next deadline (a socket read timeout), which is how keepalive pings,
//! the close timeout and the release of idle buffers run without a runtime. The API
//! follows the OCaml `websocket-lwt-unix` library:
//!
//! | OCaml | here |
//! |---|---|
//! | `connect` | [`connect`] (`ws://` and `wss://`), [`client`] over any [`Transport`] ([`Untimed`] wraps any `Read + Write`) |
//! | `establish_server` / `establish_standard_server` | [`establish_server`] (raw policy) / [`establish_standard_server`], a thread per connection, at most [`ServerOptions::max_connections`]; [`accept`] for one stream |
//! | `?stop` | [`StopHandle`]: stops the accept loop from another thread and closes live connections with 1001 |
//! | `Connected_client.send` / `send_multiple` / `recv` | [`WebSocket::send`] / [`WebSocket::send_multiple`] (messages), [`WebSocket::send_frames`] (frames as they are) / [`WebSocket::recv`] |
//! | `http_request` / `source` / `make_standard` | [`WebSocket::http_request`] / [`WebSocket::peer_addr`] / [`WebSocket::make_standard`] |
//! | `write` / `close_transport` | [`WebSocket::send_frame`] / [`WebSocket::close_transport`] |
//! | `with_connection` (a receive and a send half) | [`WebSocket::split`] into [`WsReader`] and [`WsWriter`], for two threads |
//! | `Websocket_cohttp_lwt.upgrade_connection` | [`accept_parsed`]: the handshake of a request another HTTP server already parsed, over the stream it hands over |
//! | `mk_frame_stream` | [`WebSocket::events`], [`WebSocket::messages`] and [`WsReader`] are iterators that end after the close |
//!
//! # A server
//!
//! ```no_run
//! use ws_blocking::{Event, ServerOptions, StopHandle, establish_standard_server};
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:9001")?;
//! // `stop.stop()` from another thread (a signal handler, an admin command) ends it.
//! let stop = StopHandle::new();
//! establish_standard_server(listener, ServerOptions::default(), stop, |mut ws| {
//!     while let Ok(Some(event)) = ws.recv() {
//!         if let Event::Message(message) = event {
//!             if ws.send(message).is_err() {
//!                 break;
//!             }
//!         }
//!     }
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # A client
//!
//! ```no_run
//! use ws_blocking::{CloseCode, ConnectOptions, Message, connect};
//!
//! let mut ws = connect("ws://127.0.0.1:9001/", ConnectOptions::default())?;
//! ws.send("hello")?;
//! if let Some(Message::Text(text)) = ws.recv_message()? {
//!     println!("{text}");
//! }
//! ws.close(CloseCode::NORMAL, "")?;
//! # Ok::<(), ws_blocking::Error>(())
//! ```
//!
//! # Reading and writing from two threads
//!
//! One thread that only writes while the peer answers can block forever in a write
//! that waits for us to read. [`WebSocket::split`] gives a reader and a writer (on
//! clones of the TCP stream); the reader still sends the answers to pings and closes:
//!
//! ```no_run
//! # fn f(ws: ws_blocking::WebSocket<ws_blocking::MaybeTlsStream>) -> Result<(), ws_blocking::Error> {
//! let (reader, mut writer) = ws.split()?;
//! let printer = std::thread::spawn(move || {
//!     for event in reader {
//!         println!("{event:?}");
//!     }
//! });
//! for i in 0..1000 {
//!     writer.send(format!("message {i}"))?;
//! }
//! writer.send_close(ws_blocking::CloseCode::NORMAL, "")?;
//! printer.join().unwrap();
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `rustls` (default): `wss://` for clients and TLS for servers, with rustls (ring
//!   provider) and the webpki root certificates; [`tls`] builds configurations, and
//!   [`ConnectOptions::tls`] / [`ServerOptions::tls`] take your own. A TLS socket cannot
//!   be split across threads.
//! - `deflate` (off): permessage-deflate (RFC 7692). Set `config.deflate` to
//!   `Some(DeflateConfig::default())` in the client's or the server's options to offer
//!   or accept it; the handshake negotiates the parameters, and the socket compresses
//!   and inflates messages on its own (the message limit applies to inflated sizes).
#![forbid(unsafe_code)]

mod client;
mod driver;
mod server;
mod socket;
mod split;
#[cfg(feature = "rustls")]
pub mod tls;
mod transport;

pub use client::{ConnectOptions, client, connect};
#[cfg(feature = "rustls")]
pub use rustls;
pub use server::{
    Listen, OnError, ServerOptions, StopHandle, accept, accept_parsed, establish_server,
    establish_standard_server,
};
pub use socket::{Events, Messages, Parts, WebSocket};
pub use split::{WsReader, WsWriter};
#[cfg(feature = "rustls")]
pub use transport::SharedTls;
pub use transport::{MaybeTlsStream, Transport, Untimed};

pub use ws_proto;
#[cfg(feature = "deflate")]
pub use ws_proto::DeflateConfig;
pub use ws_proto::Error;
pub use ws_proto::adapter::UpgradeOptions;
pub use ws_proto::handshake::{CheckRequest, SelectSubprotocol};
pub use ws_proto::{
    CloseCode, CloseFrame, CloseReason, Config, Event, Frame, KeepAlive, Message, OpCode, Policy,
    RequestError, ResponseError,
};
