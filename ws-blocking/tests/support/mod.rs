//! Servers for the tests: a standard server on a free loopback port, on its own thread.
#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use ws_blocking::{
    MaybeTlsStream, ServerOptions, StopHandle, WebSocket, establish_standard_server,
};

/// The socket a test server's handler gets.
pub type ServerSocket = WebSocket<MaybeTlsStream>;

/// A running test server: stopped (and joined) when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub stop: StopHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Stops the server and waits for its accept loop to return.
    pub fn stop_and_join(mut self) -> std::io::Result<()> {
        self.stop.stop();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// Starts a standard server running `handler` for every connection.
pub fn serve<F>(options: ServerOptions, handler: F) -> Server
where
    F: Fn(ServerSocket) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = StopHandle::new();
    let thread = {
        let stop = stop.clone();
        std::thread::spawn(move || establish_standard_server(listener, options, stop, handler))
    };
    Server {
        addr,
        stop,
        thread: Some(thread),
    }
}

/// Answers every message with the same message.
pub fn echo(mut ws: ServerSocket) {
    while let Ok(Some(message)) = ws.recv_message() {
        if ws.send(message).is_err() {
            break;
        }
    }
}

/// An echo server.
pub fn echo_server(options: ServerOptions) -> Server {
    serve(options, echo)
}

/// The URL of a test server.
pub fn url(server: &Server) -> String {
    format!("ws://{}/", server.addr)
}
