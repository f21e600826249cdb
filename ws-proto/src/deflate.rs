//! permessage-deflate (RFC 7692): what a client offers and a server accepts, and the
//! compression of each message.
//!
//! The negotiation is four parameters, each seen from the two sides: whether each side
//! keeps its compression context between messages (`*_no_context_takeover`), and how
//! large a window each side's compressor may use (`*_max_window_bits`). A connection
//! only ever needs the answer from its own point of view, so [`DeflateConfig`] is
//! written that way ("ours" and "the peer's") and the wire names are derived from the
//! role.
//!
//! The decompressor always runs with the largest window (a stream made with a smaller
//! window inflates the same), and checks the size of what it produces as it goes, so a
//! small compressed message cannot expand past the message size limit: the limit
//! applies to what the application would receive, not to what travelled.

use std::fmt;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The extension's registered name.
pub const EXTENSION: &str = "permessage-deflate";

/// The four bytes a sync flush ends with: RFC 7692 §7.2.1 has the sender strip them from
/// every compressed message, and the receiver put them back.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The smallest window a raw deflate compressor can really use: zlib (and zlib-rs)
/// refuse 8 bits, so a peer that limits us to 8 gets our messages uncompressed.
const MIN_COMPRESS_WINDOW_BITS: u8 = 9;

/// What this side offers (a client) or accepts (a server).
///
/// The defaults compress every message of 64 bytes or more at level 1 (fast, most of
/// the gain on text), with the full 32 KiB window and context kept between messages,
/// and ask nothing of the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// The compression level, 0 (store) to 9 (smallest).
    pub level: u32,
    /// Messages shorter than this go out uncompressed: compressing a few bytes costs
    /// more time than it saves on the wire.
    pub threshold: usize,
    /// The window our compressor uses at most, 9 to 15 bits (memory: see the crate's
    /// documentation). A peer may ask for a smaller one.
    pub max_window_bits: u8,
    /// Start every message with a fresh compressor: worse compression, but nothing
    /// kept between messages on our side.
    pub no_context_takeover: bool,
    /// Ask the peer to compress with at most this window (8 to 15 bits).
    pub peer_max_window_bits: Option<u8>,
    /// Ask the peer to start every message with a fresh compressor.
    pub peer_no_context_takeover: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            level: 1,
            threshold: 64,
            max_window_bits: 15,
            no_context_takeover: false,
            peer_max_window_bits: None,
            peer_no_context_takeover: false,
        }
    }
}

/// What the handshake settled on, from this side's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// Our compressor's window, in bits; `None` when the peer asked for a window our
    /// compressor cannot use (8 bits): then we send every message uncompressed.
    pub window_bits: Option<u8>,
    /// Our compressor starts every message afresh.
    pub no_context_takeover: bool,
    /// The peer's compressor's window, in bits.
    pub peer_window_bits: u8,
    /// The peer's compressor starts every message afresh.
    pub peer_no_context_takeover: bool,
    /// The compression level and threshold (ours; never negotiated).
    pub level: u32,
    /// See [`DeflateConfig::threshold`].
    pub threshold: usize,
}

/// Why a server's answer to our offer cannot be accepted; the client fails the
/// connection (RFC 7692 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiationError {
    /// An extension other than the one offered, or more than one.
    UnexpectedExtension(String),
    /// A parameter the extension does not define, or one given twice.
    BadParameter(String),
    /// A window size outside 8-15 or larger than the one we asked for.
    BadWindowBits(String),
    /// A parameter we asked for is missing from the answer.
    Missing(&'static str),
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedExtension(name) => write!(f, "unexpected extension {name:?}"),
            Self::BadParameter(p) => write!(f, "bad permessage-deflate parameter {p:?}"),
            Self::BadWindowBits(v) => write!(f, "bad permessage-deflate window size {v:?}"),
            Self::Missing(p) => write!(f, "permessage-deflate answer without {p}"),
        }
    }
}

impl std::error::Error for NegotiationError {}

/// The parameters of one offer or answer, checked for what RFC 7692 §7.1 allows.
#[derive(Debug, Default)]
struct Parameters {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value (only in an offer).
    client_max_window_bits: Option<Option<u8>>,
}

impl Parameters {
    fn parse<'a>(
        params: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<Self, NegotiationError> {
        let mut p = Self::default();
        let bits = |v: Option<&str>| -> Result<u8, NegotiationError> {
            let v = v.ok_or_else(|| NegotiationError::BadWindowBits(String::new()))?;
            match v.parse::<u8>() {
                // Leading zeros or signs are not in the grammar (§7.1.2).
                Ok(n @ 8..=15) if v.len() <= 2 && !v.starts_with('0') => Ok(n),
                _ => Err(NegotiationError::BadWindowBits(v.to_owned())),
            }
        };
        for (name, value) in params {
            let dup = || NegotiationError::BadParameter(name.to_owned());
            match name.to_ascii_lowercase().as_str() {
                "server_no_context_takeover" if value.is_none() => {
                    if std::mem::replace(&mut p.server_no_context_takeover, true) {
                        return Err(dup());
                    }
                }
                "client_no_context_takeover" if value.is_none() => {
                    if std::mem::replace(&mut p.client_no_context_takeover, true) {
                        return Err(dup());
                    }
                }
                "server_max_window_bits" => {
                    if p.server_max_window_bits.replace(bits(value)?).is_some() {
                        return Err(dup());
                    }
                }
                "client_max_window_bits" => {
                    let v = value.map(|v| bits(Some(v))).transpose()?;
                    if p.client_max_window_bits.replace(v).is_some() {
                        return Err(dup());
                    }
                }
                _ => return Err(NegotiationError::BadParameter(name.to_owned())),
            }
        }
        Ok(p)
    }
}

/// One extension of a `Sec-WebSocket-Extensions` value: its name and its parameters
/// (name, value), quotes removed from quoted values.
pub type Extension<'a> = (&'a str, Vec<(&'a str, Option<&'a str>)>);

/// The extensions of a `Sec-WebSocket-Extensions` value, in order.
pub fn parse_extensions(value: &str) -> Vec<Extension<'_>> {
    split_outside_quotes(value, ',')
        .filter(|ext| !ext.trim().is_empty())
        .map(|ext| {
            let mut parts = split_outside_quotes(ext, ';');
            let name = parts.next().unwrap_or("").trim();
            let params = parts
                .map(|param| match param.split_once('=') {
                    Some((k, v)) => {
                        let v = v.trim();
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .unwrap_or(v);
                        (k.trim(), Some(v))
                    }
                    None => (param.trim(), None),
                })
                .collect();
            (name, params)
        })
        .collect()
}

fn split_outside_quotes(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut start = 0;
    let mut pieces = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                pieces.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&s[start..]);
    pieces.into_iter()
}

impl DeflateConfig {
    /// The client's offer, for its `Sec-WebSocket-Extensions` header.
    ///
    /// It always includes `client_max_window_bits` (we can compress with any window the
    /// server picks from 9 to 15, and with 8 we just do not compress), so a server can
    /// limit the memory it spends on our messages.
    pub fn client_offer(&self) -> String {
        let mut offer = String::from(EXTENSION);
        if self.max_window_bits < 15 {
            offer.push_str(&format!("; client_max_window_bits={}", self.own_bits()));
        } else {
            offer.push_str("; client_max_window_bits");
        }
        if self.no_context_takeover {
            offer.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.peer_max_window_bits {
            offer.push_str(&format!("; server_max_window_bits={}", bits.clamp(8, 15)));
        }
        if self.peer_no_context_takeover {
            offer.push_str("; server_no_context_takeover");
        }
        offer
    }

    /// The window our compressor is configured for, within what zlib supports.
    fn own_bits(&self) -> u8 {
        self.max_window_bits.clamp(MIN_COMPRESS_WINDOW_BITS, 15)
    }

    /// The server's choice among the client's offers (the values of its
    /// `Sec-WebSocket-Extensions` fields, in order): the first `permessage-deflate`
    /// offer whose parameters are valid, answered as RFC 7692 §7.1 says. Returns the
    /// answer for the 101 response and the settings, or `None` to decline (no offer,
    /// or none valid): the connection then runs uncompressed.
    pub fn server_accept<'a>(
        &self,
        offers: impl IntoIterator<Item = &'a str>,
    ) -> Option<(String, DeflateParams)> {
        for value in offers {
            for (name, params) in parse_extensions(value) {
                if !name.eq_ignore_ascii_case(EXTENSION) {
                    continue;
                }
                let Ok(offer) = Parameters::parse(params.into_iter()) else {
                    // An invalid offer is declined; the next one may do.
                    continue;
                };
                return Some(self.answer(&offer));
            }
        }
        None
    }

    fn answer(&self, offer: &Parameters) -> (String, DeflateParams) {
        let mut answer = String::from(EXTENSION);
        // Our compressor: the smaller of what the client allows and what we want.
        let window = offer
            .server_max_window_bits
            .unwrap_or(15)
            .min(self.max_window_bits.clamp(8, 15));
        if offer.server_max_window_bits.is_some() || window < 15 {
            answer.push_str(&format!("; server_max_window_bits={window}"));
        }
        let no_context_takeover = offer.server_no_context_takeover || self.no_context_takeover;
        if no_context_takeover {
            answer.push_str("; server_no_context_takeover");
        }
        // The client's compressor: we may limit it only if it said it can be limited.
        let mut peer_window = 15;
        if let Some(offered) = offer.client_max_window_bits {
            peer_window = offered.unwrap_or(15);
            if let Some(wanted) = self.peer_max_window_bits {
                peer_window = peer_window.min(wanted.clamp(8, 15));
            }
            if offered.is_some() || self.peer_max_window_bits.is_some() {
                answer.push_str(&format!("; client_max_window_bits={peer_window}"));
            }
        }
        let peer_no_context_takeover = self.peer_no_context_takeover;
        if peer_no_context_takeover {
            answer.push_str("; client_no_context_takeover");
        }
        let params = DeflateParams {
            window_bits: (window >= MIN_COMPRESS_WINDOW_BITS).then_some(window),
            no_context_takeover,
            peer_window_bits: peer_window,
            // Only what the answer binds the client to: its own hint in the offer
            // (`client_no_context_takeover`) is not always kept (Autobahn's client
            // sends it and still takes context over), and keeping our context is
            // right either way.
            peer_no_context_takeover,
            level: self.level.min(9),
            threshold: self.threshold,
        };
        (answer, params)
    }

    /// The client's check of the server's answer (the values of the 101's
    /// `Sec-WebSocket-Extensions` fields): `Ok(None)` when the server declined (no
    /// field), the settings when it accepted our offer as RFC 7692 allows, an error
    /// otherwise (the client then fails the connection).
    pub fn client_check<'a>(
        &self,
        answers: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<DeflateParams>, NegotiationError> {
        let mut accepted = None;
        for value in answers {
            for (name, params) in parse_extensions(value) {
                if !name.eq_ignore_ascii_case(EXTENSION) || accepted.is_some() {
                    return Err(NegotiationError::UnexpectedExtension(name.to_owned()));
                }
                accepted = Some(Parameters::parse(params.into_iter())?);
            }
        }
        let Some(answer) = accepted else {
            return Ok(None);
        };
        // The server's window: at most what we asked for, and given if we asked.
        let peer_window = match (answer.server_max_window_bits, self.peer_max_window_bits) {
            (Some(given), Some(asked)) if given > asked.clamp(8, 15) => {
                return Err(NegotiationError::BadWindowBits(given.to_string()));
            }
            (None, Some(_)) => return Err(NegotiationError::Missing("server_max_window_bits")),
            (given, _) => given.unwrap_or(15),
        };
        if self.peer_no_context_takeover && !answer.server_no_context_takeover {
            return Err(NegotiationError::Missing("server_no_context_takeover"));
        }
        // Our window: what the server set (it may, since we always offer the
        // parameter), never more than we offered.
        let window = match answer.client_max_window_bits {
            Some(None) => return Err(NegotiationError::BadWindowBits(String::new())),
            Some(Some(bits)) if self.max_window_bits < 15 && bits > self.own_bits() => {
                return Err(NegotiationError::BadWindowBits(bits.to_string()));
            }
            Some(Some(bits)) => bits,
            None => self.own_bits(),
        };
        Ok(Some(DeflateParams {
            window_bits: (window >= MIN_COMPRESS_WINDOW_BITS).then_some(window),
            no_context_takeover: self.no_context_takeover || answer.client_no_context_takeover,
            peer_window_bits: peer_window,
            peer_no_context_takeover: answer.server_no_context_takeover,
            level: self.level.min(9),
            threshold: self.threshold,
        }))
    }
}

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// The data is not a valid deflate stream.
    Corrupt,
    /// It inflates to more than the limit.
    TooLarge,
}

/// Our compressor, created on the first message worth compressing.
pub struct Deflater {
    stream: Option<Compress>,
    params: DeflateParams,
}

impl fmt::Debug for Deflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflater")
            .field("params", &self.params)
            .field("allocated", &self.stream.is_some())
            .finish()
    }
}

impl Deflater {
    /// A compressor for the negotiated settings.
    pub fn new(params: DeflateParams) -> Self {
        Self {
            stream: None,
            params,
        }
    }

    /// The settings it compresses with.
    pub fn params(&self) -> DeflateParams {
        self.params
    }

    /// Whether a message of `len` bytes goes out compressed.
    pub fn wants(&self, len: usize) -> bool {
        self.params.window_bits.is_some() && len >= self.params.threshold
    }

    /// The message's payload as RFC 7692 sends it: deflated, flushed to a byte
    /// boundary, without the final `00 00 ff ff`.
    pub fn compress(&mut self, data: &[u8]) -> Bytes {
        let bits = self.params.window_bits.unwrap_or(15);
        let level = self.params.level;
        let stream = self.stream.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, bits)
        });
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let start = stream.total_in();
        loop {
            let consumed = (stream.total_in() - start) as usize;
            // A sync flush is complete once it returns with output room to spare.
            let result = stream.compress_vec(&data[consumed..], &mut out, FlushCompress::Sync);
            let done =
                (stream.total_in() - start) as usize == data.len() && out.len() < out.capacity();
            if result.is_err() || done {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.params.no_context_takeover {
            stream.reset();
        }
        Bytes::from(out)
    }

    /// Frees the compressor's state when nothing in it is needed for the next message
    /// (no context takeover): an idle connection then holds none of it.
    pub fn release(&mut self) {
        if self.params.no_context_takeover {
            self.stream = None;
        }
    }
}

/// Our decompressor, created on the first compressed message.
pub struct Inflater {
    stream: Option<Decompress>,
    peer_no_context_takeover: bool,
}

impl fmt::Debug for Inflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater")
            .field("allocated", &self.stream.is_some())
            .finish()
    }
}

impl Inflater {
    /// A decompressor for the negotiated settings.
    pub fn new(params: &DeflateParams) -> Self {
        Self {
            stream: None,
            peer_no_context_takeover: params.peer_no_context_takeover,
        }
    }

    /// Inflates one frame's worth of a compressed message, appending to `out`, and
    /// fails as soon as `out` would hold more than `limit` bytes: memory grows with
    /// what is produced, never past the limit (plus the output step).
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let stream = self
            .stream
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, 15));
        let mut consumed = 0;
        loop {
            if out.len() == out.capacity() {
                if out.len() > limit {
                    return Err(InflateError::TooLarge);
                }
                // Room up to one byte past the limit: enough to notice crossing it.
                let step = (input.len() * 2).clamp(4096, 1 << 20);
                out.reserve_exact(step.min(limit + 1 - out.len()));
            }
            let (before_in, before_out) = (stream.total_in(), stream.total_out());
            let status = stream
                .decompress_vec(&input[consumed..], out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            consumed += (stream.total_in() - before_in) as usize;
            if out.len() > limit {
                return Err(InflateError::TooLarge);
            }
            let progress = stream.total_in() != before_in || stream.total_out() != before_out;
            match status {
                // A final block ended the stream: what follows (the next message)
                // starts a new one, without the old context.
                Status::StreamEnd => {
                    stream.reset(false);
                    if consumed == input.len() {
                        return Ok(());
                    }
                }
                Status::Ok | Status::BufError => {
                    if consumed == input.len() && out.len() < out.capacity() {
                        return Ok(());
                    }
                    if !progress && out.len() < out.capacity() {
                        // Neither input taken nor output made with room to spare.
                        return Err(InflateError::Corrupt);
                    }
                }
            }
        }
    }

    /// Frees the decompressor's state when the peer keeps no context between messages
    /// and no message is half inflated.
    pub fn release(&mut self) {
        if self.peer_no_context_takeover {
            self.stream = None;
        }
    }

    /// Ends a compressed message: puts back the tail the sender stripped, and starts
    /// afresh if the peer does not keep its context.
    pub fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        self.inflate(&TAIL, out, limit)?;
        if self.peer_no_context_takeover {
            if let Some(stream) = &mut self.stream {
                stream.reset(false);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(config: DeflateConfig, server: DeflateConfig) -> (DeflateParams, DeflateParams) {
        let offer = config.client_offer();
        let (answer, server_params) = server.server_accept([offer.as_str()]).expect("accepted");
        let client_params = config.client_check([answer.as_str()]).unwrap().unwrap();
        (client_params, server_params)
    }

    fn roundtrip(params_tx: DeflateParams, params_rx: DeflateParams, messages: &[Vec<u8>]) {
        let mut tx = Deflater::new(params_tx);
        let mut rx = Inflater::new(&params_rx);
        for m in messages {
            let wire = tx.compress(m);
            let mut out = Vec::new();
            // Cut the wire in three frames.
            let (a, rest) = wire.split_at(wire.len() / 3);
            let (b, c) = rest.split_at(rest.len() / 2);
            for piece in [a, b, c] {
                rx.inflate(piece, &mut out, 1 << 24).unwrap();
            }
            rx.finish(&mut out, 1 << 24).unwrap();
            assert_eq!(&out, m);
        }
    }

    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| b"{\"id\": 12, \"name\": \"websocket\", \"ok\": true}\n"[i % 43])
            .collect()
    }

    #[test]
    fn default_negotiation_and_roundtrips_both_ways() {
        let (c, s) = both(DeflateConfig::default(), DeflateConfig::default());
        assert_eq!(c.window_bits, Some(15));
        assert_eq!(s.window_bits, Some(15));
        let messages = vec![
            text(0),
            text(1),
            text(100),
            text(70_000),
            vec![7; 10],
            text(3),
        ];
        roundtrip(c, s, &messages);
        roundtrip(s, c, &messages);
    }

    #[test]
    fn every_window_and_takeover_combination_roundtrips() {
        for bits in 9..=15 {
            for no_ctx in [false, true] {
                let client = DeflateConfig {
                    peer_max_window_bits: Some(bits),
                    peer_no_context_takeover: no_ctx,
                    max_window_bits: bits,
                    no_context_takeover: no_ctx,
                    ..DeflateConfig::default()
                };
                let (c, s) = both(client, DeflateConfig::default());
                assert_eq!(s.window_bits, Some(bits));
                assert_eq!(c.window_bits, Some(bits));
                assert_eq!(s.no_context_takeover, no_ctx);
                assert_eq!(c.peer_no_context_takeover, no_ctx);
                let messages = vec![text(5000), text(5000), text(300)];
                roundtrip(c, s, &messages);
                roundtrip(s, c, &messages);
            }
        }
    }

    #[test]
    fn a_window_of_8_bits_is_accepted_and_then_nothing_is_compressed() {
        let client = DeflateConfig {
            peer_max_window_bits: Some(8),
            ..DeflateConfig::default()
        };
        let (c, s) = both(client, DeflateConfig::default());
        assert_eq!(s.window_bits, None);
        assert!(!Deflater::new(s).wants(1000));
        assert_eq!(c.peer_window_bits, 8);
    }

    #[test]
    fn the_server_declines_invalid_offers_and_takes_the_next() {
        let config = DeflateConfig::default();
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=99",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; unknown",
            "x-webkit-deflate-frame",
        ] {
            assert!(config.server_accept([bad]).is_none(), "{bad}");
        }
        let (answer, params) = config
            .server_accept([
                "permessage-deflate; foo, permessage-deflate; server_max_window_bits=10",
            ])
            .unwrap();
        assert_eq!(answer, "permessage-deflate; server_max_window_bits=10");
        assert_eq!(params.window_bits, Some(10));
        // Quoted values (RFC 7692 §7.1 allows them).
        let (_, params) = config
            .server_accept(["permessage-deflate; client_max_window_bits=\"12\""])
            .unwrap();
        assert_eq!(params.peer_window_bits, 12);
    }

    #[test]
    fn the_client_fails_answers_the_rfc_forbids() {
        let config = DeflateConfig {
            peer_max_window_bits: Some(10),
            ..DeflateConfig::default()
        };
        for bad in [
            "permessage-deflate", // missing server_max_window_bits
            "permessage-deflate; server_max_window_bits=12", // larger than asked
            "permessage-deflate; server_max_window_bits=10; x=1", // unknown parameter
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
            "foo",
            "permessage-deflate; server_max_window_bits=10, permessage-deflate",
        ] {
            assert!(config.client_check([bad]).is_err(), "{bad}");
        }
        assert_eq!(config.client_check([]), Ok(None));
        let ok = config
            .client_check([
                "permessage-deflate; server_max_window_bits=9; client_max_window_bits=11",
            ])
            .unwrap()
            .unwrap();
        assert_eq!(ok.peer_window_bits, 9);
        assert_eq!(ok.window_bits, Some(11));
    }

    #[test]
    fn a_deflate_bomb_stops_at_the_limit() {
        // 64 MiB of zeros compress to well under 1 MiB.
        let params = both(DeflateConfig::default(), DeflateConfig::default()).0;
        let mut tx = Deflater::new(params);
        let bomb = tx.compress(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        let mut rx = Inflater::new(&params);
        let mut out = Vec::new();
        let limit = 1 << 20;
        assert_eq!(
            rx.inflate(&bomb, &mut out, limit),
            Err(InflateError::TooLarge)
        );
        assert!(out.capacity() <= limit + 1, "{}", out.capacity());
    }

    #[test]
    fn corrupt_data_is_an_error_not_a_panic() {
        let params = both(DeflateConfig::default(), DeflateConfig::default()).0;
        let mut seed = 1u64;
        for _ in 0..2000 {
            let len = (seed % 64) as usize;
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 56) as u8
                })
                .collect();
            let mut rx = Inflater::new(&params);
            let mut out = Vec::new();
            let _ = rx
                .inflate(&junk, &mut out, 1 << 16)
                .and_then(|()| rx.finish(&mut out, 1 << 16));
            assert!(out.len() <= (1 << 16) + 1);
        }
        let mut rx = Inflater::new(&params);
        assert_eq!(
            rx.inflate(&[0xff; 8], &mut Vec::new(), 1 << 16),
            Err(InflateError::Corrupt)
        );
    }
}

#[cfg(test)]
mod python_zlib {
    use super::*;

    /// Two messages as Python's zlib compresses them (raw deflate, sync flush, the
    /// tail stripped), with context takeover.
    #[test]
    fn inflates_what_zlib_writes() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let first = hex("aa564a54b25230343236313533b7a80500");
        let second = hex("aa564a02722dcccd4c4d8c8d0c6b0100");
        let params = DeflateConfig::default()
            .server_accept(["permessage-deflate"])
            .unwrap()
            .1;
        let mut rx = Inflater::new(&params);
        for (wire, text) in [(first, "{\"a\": 12345678}"), (second, "{\"b\": 87654321}")] {
            let mut out = Vec::new();
            rx.inflate(&wire, &mut out, 1 << 20).unwrap();
            rx.finish(&mut out, 1 << 20).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
    }

    /// The same through a whole server connection, with the offer Autobahn's client
    /// makes (its `client_no_context_takeover` hint is not kept by it).
    #[test]
    fn a_server_connection_inflates_messages_that_take_context_over() {
        use crate::{Config, Connection, Event, Message, Role};
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let (_, params) = DeflateConfig::default()
            .server_accept([
                "permessage-deflate; client_no_context_takeover; client_max_window_bits",
            ])
            .unwrap();
        #[allow(clippy::disallowed_methods)] // a test's origin of time
        let now = std::time::Instant::now();
        let mut server = Connection::new(Role::Server, Config::default(), now);
        server.enable_deflate(params);
        for (wire, text) in [
            ("aa564a54b25230343236313533b7a80500", "{\"a\": 12345678}"),
            ("aa564a02722dcccd4c4d8c8d0c6b0100", "{\"b\": 87654321}"),
        ] {
            let frame =
                crate::Frame::new(crate::OpCode::Text, hex(wire)).with_rsv([true, false, false]);
            let mut bytes = Vec::new();
            frame.encode(Some([1, 2, 3, 4]), &mut bytes);
            server.handle_input(&bytes, now);
            assert_eq!(
                server.poll_event(),
                Some(Event::Message(Message::from(text)))
            );
        }
    }
}
