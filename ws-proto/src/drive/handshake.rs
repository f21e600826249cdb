//! The opening handshakes over a [`Transport`]: the server's [`accept`] and the
//! client's [`client`], each within a time limit on the transport's runtime.

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use super::socket::{Parts, WebSocket};
use super::transport::{Runtime, Transport};
use crate::adapter::{
    Answer, AnswerOptions, REFUSE_DRAIN, REFUSE_LINGER, UpgradeOptions, answer_parsed,
    answer_request,
};
use crate::handshake::{ClientHandshake, ClientOptions, ServerHandshake, UpgradeRequest};
use crate::{Config, Connection, Entropy, Error, HandshakeLimits, RequestError, Role};

/// The bytes one handshake read asks for.
const HANDSHAKE_READ: usize = 4096;

/// `future`'s output, or `None` if `limit` passes first on `R`'s clock.
pub async fn timeout<R: Runtime, F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut sleep = R::sleep_until(R::now() + limit);
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        R::poll_sleep(&mut sleep, cx).map(|()| None)
    })
    .await
}

async fn read<T: Transport>(io: &mut T, buf: &mut [u8]) -> std::io::Result<usize> {
    poll_fn(|cx| io.poll_read(cx, buf)).await
}

async fn write_all<T: Transport>(io: &mut T, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        match poll_fn(|cx| io.poll_write(cx, buf)).await? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => buf = &buf[n.min(buf.len())..],
        }
    }
    poll_fn(|cx| io.poll_flush(cx)).await
}

/// How a server answers opening requests: the settings of an adapter's
/// `ServerOptions` that [`accept`] uses.
#[derive(Debug, Clone, Copy)]
pub struct AcceptOptions<'a> {
    /// How to answer a request once it is read: the connection settings, the request
    /// check, the subprotocol choice, the 101's extra fields.
    pub answer: AnswerOptions<'a>,
    /// Bounds on the opening request.
    pub limits: HandshakeLimits,
    /// How long the client has to send its opening request.
    pub timeout: Duration,
}

/// Performs the server's opening handshake over an accepted transport: reads the
/// request (within `options.timeout`), runs the request check, and answers 101 or the
/// error's status (400, 403, 405, 426, 431). A refused client gets its answer and a
/// clean close (see [`Error::Request`]).
pub async fn accept<T: Transport>(
    mut io: T,
    peer_addr: Option<SocketAddr>,
    options: AcceptOptions<'_>,
) -> Result<WebSocket<T>, Error> {
    let outcome = timeout::<T::Runtime, _>(options.timeout, read_request(&mut io, options.limits))
        .await
        .ok_or(Error::HandshakeTimeout)??;
    let mut out = Vec::new();
    let answer = answer_request(outcome, &options.answer, T::Runtime::now(), &mut out)?;
    carry_out(io, &out, answer, peer_addr).await
}

/// Performs the server's side of an opening handshake whose request an HTTP server
/// already read and parsed, over the transport it hands over: answers 101 and returns
/// the socket, or, for a bad request, answers the error's status (400, 405, 426...),
/// closes the transport cleanly and returns [`Error::Request`]. `leftover` is whatever
/// the HTTP server read past the request's head: the connection's first bytes.
pub async fn accept_parsed<T: Transport, B>(
    io: T,
    request: &http::Request<B>,
    leftover: &[u8],
    peer_addr: Option<SocketAddr>,
    options: UpgradeOptions,
) -> Result<WebSocket<T>, Error> {
    let mut out = Vec::new();
    let answer = answer_parsed(request, leftover, options, T::Runtime::now(), &mut out)?;
    carry_out(io, &out, answer, peer_addr).await
}

/// Sends a server's answer (`out`, as `answer` says it was written) and returns the
/// socket, or closes the transport after a refusal.
async fn carry_out<T: Transport>(
    mut io: T,
    out: &[u8],
    answer: Answer,
    peer_addr: Option<SocketAddr>,
) -> Result<WebSocket<T>, Error> {
    match answer {
        Answer::Upgrade(up) => {
            write_all(&mut io, out).await?;
            let (conn, leftover, parts) = up.into_parts(peer_addr);
            Ok(WebSocket::from_parts(io, conn, &leftover, parts))
        }
        Answer::Refuse(error) => {
            refuse(io, out).await;
            Err(Error::Request(error))
        }
    }
}

/// Reads an opening request: the upgrade, or the refusal to answer with.
async fn read_request<T: Transport>(
    io: &mut T,
    limits: HandshakeLimits,
) -> Result<Result<UpgradeRequest, RequestError>, Error> {
    let mut handshake = ServerHandshake::new(limits);
    let mut buf = vec![0u8; HANDSHAKE_READ];
    loop {
        let n = read(io, &mut buf).await?;
        if n == 0 {
            return Err(Error::HandshakeEof);
        }
        match handshake.handle_input(&buf[..n]) {
            Ok(Some(upgrade)) => return Ok(Ok(upgrade)),
            Ok(None) => {}
            Err(e) => return Ok(Err(e)),
        }
    }
}

/// Sends a refusal and closes the transport cleanly: the answer is flushed (through
/// TLS too), the write side shut down, and what the client still sends is read and
/// dropped for a moment, so that closing with unread bytes does not reset the
/// connection and destroy the answer before the client reads it.
async fn refuse<T: Transport>(mut io: T, answer: &[u8]) {
    let _ = timeout::<T::Runtime, _>(REFUSE_LINGER, async {
        write_all(&mut io, answer).await?;
        poll_fn(|cx| io.poll_shutdown(cx)).await?;
        let mut sink = [0u8; HANDSHAKE_READ];
        let mut drained = 0;
        while drained < REFUSE_DRAIN {
            match read(&mut io, &mut sink).await? {
                0 => break,
                n => drained += n,
            }
        }
        Ok::<(), std::io::Error>(())
    })
    .await;
}

/// Performs the client's opening handshake for `uri` over a transport the caller
/// connected, within `limit`: sends the request built from `handshake` (with a nonce
/// from `entropy`, which then draws the masking keys), and checks the answer.
pub async fn client<T: Transport>(
    mut io: T,
    uri: &http::Uri,
    handshake: &ClientOptions,
    config: Config,
    mut entropy: Box<dyn Entropy>,
    limit: Duration,
) -> Result<WebSocket<T>, Error> {
    let mut handshake = ClientHandshake::new(uri, handshake, entropy.as_mut())?;
    handshake.offer_extensions(&config);
    let exchange = async {
        let mut out = Vec::new();
        handshake.write_request(&mut out);
        write_all(&mut io, &out).await?;
        let mut buf = vec![0u8; HANDSHAKE_READ];
        loop {
            let n = read(&mut io, &mut buf).await?;
            if n == 0 {
                return Err(Error::HandshakeEof);
            }
            if let Some(response) = handshake.handle_input(&buf[..n])? {
                return Ok(response);
            }
        }
    };
    let response = timeout::<T::Runtime, _>(limit, exchange)
        .await
        .ok_or(Error::HandshakeTimeout)??;
    let conn = Connection::with_entropy(Role::Client, config, T::Runtime::now(), entropy)
        .with_extensions(response.extensions);
    let parts = Parts {
        request: None,
        peer_addr: None,
        subprotocol: response.subprotocol,
    };
    Ok(WebSocket::from_parts(io, conn, &response.leftover, parts))
}
