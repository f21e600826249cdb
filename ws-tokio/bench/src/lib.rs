//! Shared pieces of the benchmark binaries: raw WebSocket framing for the neutral load
//! generator and server (written here, independent of every library under test), the
//! raw opening handshakes, and the statistics.
//!
//! See `BENCHMARKS.md` at the top of the repository for what is measured and how.

pub mod servers;

use std::io;
use std::time::Duration;

use base64::Engine;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The implementations the matrix compares.
pub const SERVERS: &[&str] = &[
    "ours",
    "ours-send",
    "ours-busy",
    "ours-async-std",
    "tungstenite",
    "fastwebsockets",
    "tokio-websockets",
];

/// The clients the matrix compares.
pub const CLIENTS: &[&str] = &[
    "ours",
    "ours-busy",
    "ours-async-std",
    "tungstenite",
    "fastwebsockets",
    "tokio-websockets",
];

/// The blocking servers and clients (`matrix blocking`): a thread per connection.
pub const BLOCKING: &[&str] = &["ours-blocking", "tungstenite-blocking"];

/// How long the memory benchmarks wait before they read an idle server's memory: past
/// the 2 to 4 s without traffic after which our connections give their buffers back.
pub const IDLE_SETTLE: Duration = Duration::from_secs(5);

/// One binary WebSocket frame with `size` payload bytes; masked with a fixed key when
/// `masked` (a client frame), plain otherwise.
pub fn frame(size: usize, masked: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 14);
    out.push(0x82);
    let mask_bit = if masked { 0x80 } else { 0 };
    if size < 126 {
        out.push(mask_bit | size as u8);
    } else if size <= 0xffff {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(size as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(size as u64).to_be_bytes());
    }
    let key = [0x12, 0x34, 0x56, 0x78];
    if masked {
        out.extend_from_slice(&key);
    }
    // A payload that is also valid UTF-8 (in case a peer is asked to echo it as text).
    out.extend((0..size).map(|i| {
        let b = b'a' + (i % 26) as u8;
        if masked { b ^ key[i % 4] } else { b }
    }));
    out
}

/// A header as it arrives, decoded just enough to skip or forward its payload.
#[derive(Debug, Clone, Copy)]
pub struct RawHeader {
    /// First byte: FIN, RSV, opcode.
    pub b0: u8,
    /// Whether the payload is masked (it then has a 4-byte key before it).
    pub masked: bool,
    /// Payload length.
    pub len: u64,
}

impl RawHeader {
    /// Whether this frame ends a data message.
    pub fn ends_message(&self) -> bool {
        self.b0 & 0x80 != 0 && self.b0 & 0x0f < 0x8
    }

    /// The same frame's header as a server sends it: unmasked.
    pub fn unmasked_bytes(&self, out: &mut Vec<u8>) {
        out.push(self.b0);
        if self.len < 126 {
            out.push(self.len as u8);
        } else if self.len <= 0xffff {
            out.push(126);
            out.extend_from_slice(&(self.len as u16).to_be_bytes());
        } else {
            out.push(127);
            out.extend_from_slice(&self.len.to_be_bytes());
        }
    }
}

/// Splits a byte stream into frame headers and payload pieces, across any read
/// boundaries.
#[derive(Debug, Default)]
pub struct FrameSplitter {
    head: [u8; 14],
    head_len: usize,
    /// The frame whose payload is passing, and how much of it is left.
    current: Option<(RawHeader, u64)>,
}

/// A piece of the stream.
#[derive(Debug)]
pub enum Piece<'a> {
    /// A complete header (the mask key, if any, is dropped).
    Header(RawHeader),
    /// Payload bytes of the current frame.
    Payload(&'a [u8]),
    /// The current frame is complete.
    End(RawHeader),
}

impl FrameSplitter {
    /// Calls `f` with every piece in `data`.
    pub fn feed(&mut self, mut data: &[u8], mut f: impl FnMut(Piece<'_>)) {
        loop {
            if let Some((header, left)) = &mut self.current {
                let header = *header;
                let n = (*left).min(data.len() as u64) as usize;
                if n > 0 {
                    f(Piece::Payload(&data[..n]));
                    *left -= n as u64;
                    data = &data[n..];
                }
                if *left == 0 {
                    self.current = None;
                    f(Piece::End(header));
                    continue;
                }
                return;
            }
            if data.is_empty() {
                return;
            }
            // Collect header bytes: two, then as many as those two announce.
            if self.head_len < 2 {
                self.take_head(&mut data, 2);
                if self.head_len < 2 {
                    return;
                }
            }
            let need = self.head_size();
            self.take_head(&mut data, need);
            if self.head_len < need {
                return;
            }
            let h = &self.head;
            let len = match h[1] & 0x7f {
                126 => u16::from_be_bytes([h[2], h[3]]) as u64,
                127 => u64::from_be_bytes(h[2..10].try_into().expect("8 bytes")),
                n => n as u64,
            };
            let header = RawHeader {
                b0: h[0],
                masked: h[1] & 0x80 != 0,
                len,
            };
            self.head_len = 0;
            f(Piece::Header(header));
            self.current = Some((header, len));
        }
    }

    fn take_head(&mut self, data: &mut &[u8], upto: usize) {
        let take = upto.saturating_sub(self.head_len).min(data.len());
        self.head[self.head_len..self.head_len + take].copy_from_slice(&data[..take]);
        self.head_len += take;
        *data = &data[take..];
    }

    /// The header's size, from its first two bytes.
    fn head_size(&self) -> usize {
        let ext = match self.head[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + if self.head[1] & 0x80 != 0 { 4 } else { 0 }
    }
}

/// The opening handshake of a client, written by hand: what the load generator sends.
pub async fn raw_client_handshake(stream: &mut TcpStream, host: &str) -> io::Result<()> {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte, so nothing after the response head is consumed.
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
        if head.len() > 8192 {
            return Err(io::Error::other("response head too long"));
        }
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(io::Error::other(
            String::from_utf8_lossy(&head).into_owned(),
        ));
    }
    Ok(())
}

/// The opening handshake of a server, written by hand: the neutral server's, and the
/// one fastwebsockets leaves to its user. Returns bytes read past the request.
pub async fn raw_server_handshake(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        let parsed = request.parse(&buf).map_err(io::Error::other)?;
        if let httparse::Status::Complete(len) = parsed {
            let key = request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
                .ok_or_else(|| io::Error::other("no key"))?
                .value;
            let mut sha = Sha1::new();
            sha.update(key);
            sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
            let accept = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            stream.write_all(response.as_bytes()).await?;
            return Ok(buf.split_off(len));
        }
        if buf.len() > 16384 {
            return Err(io::Error::other("request head too long"));
        }
    }
}

/// Connections whose opening handshake is done, in a measuring binary: [`report_rate`]
/// starts its warm-up only once all are open.
pub static CONNECTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts one more connection open (see [`CONNECTED`]).
pub fn connected() {
    CONNECTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Waits until `conns` connections are open (at most a minute), then `warmup`, counts
/// how far `counter` moves over `secs`, prints that as a rate (per second) and ends the
/// process: the end of every measuring binary.
///
/// Waiting for the handshakes keeps them out of the figure: with 1 000 connections a
/// slow handshake path could otherwise still be opening connections when counting
/// starts, and be measured on fewer of them than asked.
pub async fn report_rate(
    counter: &std::sync::atomic::AtomicU64,
    conns: usize,
    warmup: Duration,
    secs: Duration,
) -> ! {
    use std::sync::atomic::Ordering;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while CONNECTED.load(Ordering::Relaxed) < conns {
        if tokio::time::Instant::now() > deadline {
            eprintln!(
                "only {} of {conns} connections opened in a minute",
                CONNECTED.load(Ordering::Relaxed)
            );
            std::process::exit(1);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(warmup).await;
    let start = counter.load(Ordering::Relaxed);
    let t0 = tokio::time::Instant::now();
    tokio::time::sleep(secs).await;
    let done = counter.load(Ordering::Relaxed) - start;
    println!("{:.0}", done as f64 / t0.elapsed().as_secs_f64());
    std::process::exit(0);
}

/// The median of some figures.
pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if !xs.len().is_multiple_of(2) {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    }
}

/// The busy-polling budget of the `ours-busy` server and client: `WS_BUSY_POLL`
/// microseconds, 50 by default (a little more than this VM takes to wake a halted
/// vCPU, see BENCHMARKS.md).
pub fn busy_poll() -> std::time::Duration {
    let micros = std::env::var("WS_BUSY_POLL").map_or(50, |v| v.parse().expect("microseconds"));
    std::time::Duration::from_micros(micros)
}

/// Parses a size such as `16`, `1k`, `64k` or `1m` (binary units).
pub fn parse_size(s: &str) -> usize {
    let s = s.to_ascii_lowercase();
    let (digits, unit) = match s.strip_suffix('k') {
        Some(d) => (d, 1024),
        None => match s.strip_suffix('m') {
            Some(d) => (d, 1024 * 1024),
            None => (s.as_str(), 1),
        },
    };
    digits.parse::<usize>().expect("a size") * unit
}

/// A size written the way the tables show it.
pub fn show_size(n: usize) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} B")
    }
}

/// How long a measurement runs, from the command line.
pub fn secs(s: &str) -> Duration {
    Duration::from_secs_f64(s.parse().expect("seconds"))
}

/// Raises this process's soft limit on open files to its hard limit, and returns the
/// limit now in force: 10 000 connections need more descriptors than the usual soft
/// limit of 1024, and raising it needs no privilege. Best effort: on failure the limit
/// stays as it was (and the run fails later, saying which connection could not open).
pub fn raise_fd_limit() -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` through the pointer, which points to a
    // live, properly aligned `rlimit` owned by this frame.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `setrlimit` only reads the `rlimit` the pointer refers to, a live
        // value of this frame.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    limit.rlim_cur
}

/// The resident memory of a process, in bytes, from `/proc`.
pub fn rss_of(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| io::Error::other("no VmRSS"))?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other("bad VmRSS"))?;
    Ok(kib * 1024)
}

/// The CPU time a process has spent so far, in user space and in the kernel, in
/// seconds, from `/proc/PID/stat`.
pub fn cpu_time_of(pid: u32) -> io::Result<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (user, kernel) = parse_cpu_ticks(&stat).ok_or_else(|| io::Error::other("bad stat"))?;
    let hz = clock_ticks_per_second();
    Ok((user as f64 / hz, kernel as f64 / hz))
}

/// utime and stime, in clock ticks, from a `/proc/PID/stat` line: fields 14 and 15,
/// counted after the command name, which is in parentheses and may hold spaces and
/// parentheses of its own.
fn parse_cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // The first field after the name is field 3 (the state).
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let user = fields.next()?.parse().ok()?;
    let kernel = fields.next()?.parse().ok()?;
    Some((user, kernel))
}

/// The kernel's `USER_HZ` (what `/proc` counts CPU time in), 100 when `getconf` is
/// missing, as it is on every common Linux. Asked once per process: a measurement
/// reads the CPU time twice per run, and should not start a process each time.
fn clock_ticks_per_second() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_past_a_command_name_with_spaces() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 250 0 0 0 731 96 0 0 20 0 2 0";
        assert_eq!(parse_cpu_ticks(stat), Some((731, 96)));
        assert_eq!(parse_cpu_ticks("4242 (short) S 1 2"), None);
    }

    #[test]
    fn this_process_has_spent_some_cpu_time() {
        let spin_until = std::time::Instant::now() + Duration::from_millis(50);
        while std::time::Instant::now() < spin_until {
            std::hint::spin_loop();
        }
        let (user, kernel) = cpu_time_of(std::process::id()).expect("own /proc entry");
        assert!(user + kernel > 0.0, "{user} {kernel}");
    }

    #[test]
    fn the_fd_limit_is_raised_to_the_hard_limit() {
        let raised = raise_fd_limit();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in `raise_fd_limit`.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(raised, limit.rlim_cur);
        assert_eq!(limit.rlim_cur, limit.rlim_max);
        // Opening more files than the usual soft limit of 1024 now works.
        if limit.rlim_cur > 1100 {
            let files: Vec<_> = (0..1100)
                .map(|_| std::fs::File::open("/dev/null").expect("a descriptor"))
                .collect();
            assert_eq!(files.len(), 1100);
        }
    }

    #[test]
    fn splitter_finds_frames_across_any_split() {
        let mut stream = Vec::new();
        for size in [0, 1, 125, 126, 65535, 65536, 70000] {
            stream.extend(frame(size, true));
            stream.extend(frame(size, false));
        }
        for step in [1, 3, 7, 1000, stream.len()] {
            let mut s = FrameSplitter::default();
            let (mut ends, mut payload) = (0, 0u64);
            for chunk in stream.chunks(step) {
                s.feed(chunk, |p| match p {
                    Piece::Payload(b) => payload += b.len() as u64,
                    Piece::End(h) => {
                        assert!(h.ends_message());
                        ends += 1;
                    }
                    Piece::Header(_) => {}
                });
            }
            assert_eq!(ends, 14, "step {step}");
            assert_eq!(payload, 2 * (1 + 125 + 126 + 65535 + 65536 + 70000));
        }
    }
}
