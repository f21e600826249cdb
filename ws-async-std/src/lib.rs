//! WebSocket (RFC 6455) client and server on `futures-io` streams: async-std, smol, and
//! any executor.
//!
//! A thin driver of the [`ws_proto`] sans-IO core: every protocol decision (framing,
//! masking, UTF-8, ping and close answers, limits, timers) is made there, and so is the
//! async drive loop that every runtime shares ([`ws_proto::drive`]); this crate gives
//! that loop its streams and timers ([`FuturesIo`], [`AsyncIoRuntime`]) and adds TCP,
//! TLS and the accept loop. It is written against the
//! [`futures_io::AsyncRead`] / [`futures_io::AsyncWrite`] traits, so one code path
//! serves async-std's and smol's streams, TLS streams from futures-rustls, and any other
//! `futures-io` stream. Timers are [`async_io::Timer`]s, and [`connect`] and the
//! servers use [`async_net`]'s TCP types (the stream inside a [`TcpStream`], which
//! spares a read per wait): both run on the `async-io` reactor that
//! async-std and smol share, so nothing here is tied to one executor (the servers take
//! a [`Spawn`] function for their connection tasks).
//!
//! The API follows the OCaml `websocket-lwt-unix` library:
//!
//! | OCaml | here |
//! |---|---|
//! | `connect` | [`connect`] (`ws://` and `wss://`), [`client`] over any stream |
//! | `establish_server` / `establish_standard_server` | [`establish_server`] (raw policy) / [`establish_standard_server`], [`accept`] for one stream |
//! | `Connected_client.send` / `send_multiple` / `recv` | [`WebSocket::send`] / [`WebSocket::send_multiple`] (messages), [`WebSocket::send_frames`] (frames as they are) / [`WebSocket::recv`] |
//! | `http_request` / `source` / `make_standard` | [`WebSocket::http_request`] / [`WebSocket::peer_addr`] / [`WebSocket::make_standard`] |
//! | `write` / `close_transport` | [`WebSocket::send_frame`] / [`WebSocket::close_transport`] |
//! | `with_connection` (a receive and a send half) | [`WebSocket::split`] into [`WsReader`] and [`WsWriter`] |
//! | `Websocket_cohttp_lwt.upgrade_connection` | [`accept_parsed`]: the handshake of a request another HTTP server already parsed, over the stream it hands over |
//! | `mk_frame_stream` | [`WebSocket`] and [`WsReader`] are `Stream`s of events that end after the close; [`WebSocket`] and [`WsWriter`] are `Sink`s of messages |
//!
//! # A server on async-std
//!
//! ```no_run
//! use ws_async_std::{Event, ServerOptions, establish_standard_server};
//!
//! # fn main() -> std::io::Result<()> {
//! async_std::task::block_on(async {
//!     let listener = ws_async_std::async_net::TcpListener::bind("127.0.0.1:9001").await?;
//!     // Runs until this future completes (a Ctrl-C handler, a channel...).
//!     let stop = std::future::pending::<()>();
//!     establish_standard_server(listener, ServerOptions::default(), stop, |mut ws| async move {
//!         while let Ok(Some(event)) = ws.recv().await {
//!             if let Event::Message(message) = event {
//!                 // `queue`: the answers to a burst of messages go out in one write
//!                 // (see `WebSocket::queue` for when they go sooner).
//!                 if ws.queue(message).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         }
//!     })
//!     .await
//! })
//! # }
//! ```
//!
//! # A server on smol
//!
//! The same, with the connections spawned on smol's executor (the default spawns on
//! async-std's when the `async-std` feature is on; see [`ServerOptions::spawn`]):
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use ws_async_std::{ServerOptions, establish_standard_server};
//!
//! # fn main() -> std::io::Result<()> {
//! smol::block_on(async {
//!     let options = ServerOptions {
//!         spawn: Arc::new(|task| smol::spawn(task).detach()),
//!         ..ServerOptions::default()
//!     };
//!     let addr: std::net::SocketAddr = "127.0.0.1:9001".parse().unwrap();
//!     let stop = std::future::pending::<()>();
//!     establish_standard_server(addr, options, stop, |mut ws| async move {
//!         while let Ok(Some(message)) = ws.recv_message().await {
//!             if ws.queue(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     })
//!     .await
//! })
//! # }
//! ```
//!
//! # A client
//!
//! ```no_run
//! use ws_async_std::{CloseCode, ConnectOptions, Message, connect};
//!
//! # fn main() -> Result<(), ws_async_std::Error> {
//! // `smol::block_on` works the same.
//! async_std::task::block_on(async {
//!     let mut ws = connect("ws://127.0.0.1:9001/", ConnectOptions::default()).await?;
//!     ws.send("hello").await?;
//!     if let Some(Message::Text(text)) = ws.recv_message().await? {
//!         println!("{text}");
//!     }
//!     ws.close(CloseCode::NORMAL, "").await
//! })
//! # }
//! ```
//!
//! Over a stream you connected yourself (an async-std or smol `TcpStream`, a Unix
//! socket...), [`client`] performs the opening handshake, and [`accept`] is the
//! server's. An `async_net::TcpStream` wrapped in [`TcpStream`] (`TcpStream::from`)
//! reads the way [`connect`]'s and the servers' streams do.
//!
//! # Features
//!
//! - `rustls` (default): `wss://` for clients and TLS for servers, with rustls (ring
//!   provider, through futures-rustls) and the webpki root certificates; [`tls`] builds
//!   configurations, and [`ConnectOptions::tls`] / [`ServerOptions::tls`] take your own.
//! - `async-std` (default): servers spawn their connections with
//!   `async_std::task::spawn`.
//! - `smol` (off): without `async-std`, servers spawn their connections on smol's
//!   global executor.
//! - `deflate` (off): permessage-deflate (RFC 7692). Set `config.deflate` to
//!   `Some(DeflateConfig::default())` in the client's or the server's options to offer
//!   or accept it; the handshake negotiates the parameters, and the socket compresses
//!   and inflates messages on its own (the message limit applies to inflated sizes).
//!
//! With neither runtime feature, servers run each connection on a thread of its own
//! (`async_io::block_on`) unless [`ServerOptions::spawn`] says otherwise; the client
//! and the socket need no runtime feature at all.
//!
//! # Performance
//!
//! The protocol work is ws-tokio's (the same core and drive loop); reads go into
//! zeroed room, as `futures-io` asks, and the rest of the difference is the reactor's.
//! async-io arms a socket again, with a system call, each time a task waits for it,
//! and makes five calls of its own around each wait; and it runs a thread of its own,
//! `async-io`, that drives the reactor while the threads running tasks are busy. Leave
//! that thread a core: pinned with its server to one core, it took the core from the
//! connections thousands of times a second in the benchmarks, in some runs and not
//! others (BENCHMARKS.md at the repository's top, "ws-async-std's gaps, traced to
//! async-io").
#![forbid(unsafe_code)]

use std::future::Future;
use std::time::Duration;

mod client;
mod server;
mod stream;
mod tcp;
#[cfg(feature = "rustls")]
pub mod tls;
mod transport;

/// The TCP types the servers listen with and [`TcpStream`] wraps (on the `async-io`
/// reactor).
pub use async_net;
pub use client::{ConnectOptions, client, connect};
#[cfg(feature = "rustls")]
pub use futures_rustls::rustls;
pub use server::{
    Listen, OnError, ServerOptions, Spawn, accept, accept_parsed, establish_server,
    establish_standard_server,
};
pub use stream::MaybeTlsStream;
pub use tcp::TcpStream;
pub use transport::{AsyncIoRuntime, FuturesIo};
pub use ws_proto::Error;
pub use ws_proto::adapter::UpgradeOptions;
pub use ws_proto::drive::Parts;
pub use ws_proto::handshake::{CheckRequest, SelectSubprotocol};

/// A WebSocket connection over the `futures-io` stream `S` (async-std, smol, TLS...),
/// client or server: the [`ws_proto::drive::WebSocket`] over [`FuturesIo<S>`], whose
/// page lists the methods.
///
/// Every method is cancel safe: drop its future (when it loses a race, with
/// `futures_lite::future::or` or a `select!`) and nothing is lost.
pub type WebSocket<S> = ws_proto::drive::WebSocket<FuturesIo<S>>;

/// The receiving half of a split [`WebSocket`]: events, and the automatic answers to
/// pings and closes.
pub type WsReader<S> = ws_proto::drive::WsReader<FuturesIo<S>>;

/// The sending half of a split [`WebSocket`].
pub type WsWriter<S> = ws_proto::drive::WsWriter<FuturesIo<S>>;

pub use ws_proto;
#[cfg(feature = "deflate")]
pub use ws_proto::DeflateConfig;
pub use ws_proto::{
    CloseCode, CloseFrame, CloseReason, Config, Event, Frame, KeepAlive, Message, OpCode, Policy,
};

/// `future`'s output, or `None` if `limit` passes first.
pub(crate) async fn timeout<T>(limit: Duration, future: impl Future<Output = T>) -> Option<T> {
    ws_proto::drive::timeout::<AsyncIoRuntime, _>(limit, future).await
}
