//! WebSocket (RFC 6455) client and server on tokio.
//!
//! A thin driver of the [`ws_proto`] sans-IO core: every protocol decision (framing,
//! masking, UTF-8, ping and close answers, limits, timers) is made there, and so is the
//! async drive loop that every runtime shares ([`ws_proto::drive`]). This crate gives
//! that loop tokio's streams and timers ([`Tokio`], [`TokioRuntime`]), and adds what is
//! tokio's own: TCP, TLS, the accept loop, the hyper upgrade. The API follows the OCaml
//! `websocket-lwt-unix` library:
//!
//! | OCaml | here |
//! |---|---|
//! | `connect` | [`connect`] (`ws://` and `wss://`), [`client`] over any stream |
//! | `establish_server` / `establish_standard_server` | [`establish_server`] (raw policy) / [`establish_standard_server`], [`accept`] for one stream |
//! | `Connected_client.send` / `send_multiple` / `recv` | [`WebSocket::send`] / [`WebSocket::send_multiple`] (messages), [`WebSocket::send_frames`] (frames as they are) / [`WebSocket::recv`] |
//! | `http_request` / `source` / `make_standard` | [`WebSocket::http_request`] / [`WebSocket::peer_addr`] / [`WebSocket::make_standard`] |
//! | `write` / `close_transport` | [`WebSocket::send_frame`] / [`WebSocket::close_transport`] |
//! | `with_connection` (a receive and a send half) | [`WebSocket::split`] into [`WsReader`] and [`WsWriter`] |
//! | `Websocket_cohttp_lwt.upgrade_connection` | [`upgrade::upgrade`] inside a hyper service (feature `hyper`), [`accept_parsed`] for a request any other HTTP server parsed |
//! | `mk_frame_stream` | [`WebSocket`] and [`WsReader`] are `Stream`s of events that end after the close; [`WebSocket`] and [`WsWriter`] are `Sink`s of messages |
//!
//! # A server
//!
//! ```no_run
//! use ws_tokio::{Event, ServerOptions, establish_standard_server};
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let stop = async { let _ = tokio::signal::ctrl_c().await; };
//! establish_standard_server(listener, ServerOptions::default(), stop, |mut ws| async move {
//!     while let Ok(Some(event)) = ws.recv().await {
//!         if let Event::Message(message) = event {
//!             if ws.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     }
//! })
//! .await
//! # }
//! ```
//!
//! # A client
//!
//! ```no_run
//! use ws_tokio::{CloseCode, ConnectOptions, Message, connect};
//!
//! # #[tokio::main] async fn main() -> Result<(), ws_tokio::Error> {
//! let mut ws = connect("ws://127.0.0.1:9001/", ConnectOptions::default()).await?;
//! ws.send("hello").await?;
//! if let Some(Message::Text(text)) = ws.recv_message().await? {
//!     println!("{text}");
//! }
//! ws.close(CloseCode::NORMAL, "").await?;
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `rustls` (default): `wss://` for clients and TLS for servers, with rustls (ring
//!   provider) and the webpki root certificates; [`tls`] builds configurations, and
//!   [`ConnectOptions::tls`] / [`ServerOptions::tls`] take your own.
//! - `hyper` (off): upgrade a request inside a hyper 1.x server ([`upgrade`]).
//! - `deflate` (off): permessage-deflate (RFC 7692). Set `config.deflate` to
//!   `Some(DeflateConfig::default())` in the client's or the server's options to offer
//!   or accept it; the handshake negotiates the parameters, and the socket compresses
//!   and inflates messages on its own (the message limit applies to inflated sizes).
#![forbid(unsafe_code)]

mod client;
mod server;
mod stream;
#[cfg(feature = "rustls")]
pub mod tls;
mod transport;
#[cfg(feature = "hyper")]
pub mod upgrade;

pub use client::{ConnectOptions, client, connect};
pub use server::{
    Listen, OnError, ServerOptions, accept, accept_parsed, establish_server,
    establish_standard_server,
};
pub use stream::MaybeTlsStream;
pub use transport::{Tokio, TokioRuntime};
pub use ws_proto::Error;
pub use ws_proto::adapter::UpgradeOptions;
pub use ws_proto::drive::Parts;
pub use ws_proto::handshake::{CheckRequest, SelectSubprotocol};

/// A WebSocket connection over the tokio stream `S`, client or server: the
/// [`ws_proto::drive::WebSocket`] over [`Tokio<S>`], whose page lists the methods.
///
/// Every method is cancel safe: drop its future (in a `select!`) and nothing is lost.
pub type WebSocket<S> = ws_proto::drive::WebSocket<Tokio<S>>;

/// The receiving half of a split [`WebSocket`]: events, and the automatic answers to
/// pings and closes.
pub type WsReader<S> = ws_proto::drive::WsReader<Tokio<S>>;

/// The sending half of a split [`WebSocket`].
pub type WsWriter<S> = ws_proto::drive::WsWriter<Tokio<S>>;
#[cfg(feature = "rustls")]
pub use tokio_rustls::rustls;

pub use ws_proto;
#[cfg(feature = "deflate")]
pub use ws_proto::DeflateConfig;
pub use ws_proto::{
    CloseCode, CloseFrame, CloseReason, Config, Event, Frame, KeepAlive, Message, OpCode, Policy,
};
