//! Frames: the opcode, the frame value, and the pure header codec (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! ```
//!
//! The header codec never looks at a payload: decoding the payload (unmasking, UTF-8,
//! assembly) is the connection's job, so that it can be done as bytes trickle in.

use bytes::Bytes;

use crate::close::{CloseCode, CloseFrame};
use crate::error::ProtocolError;
use crate::mask::extend_masked;

/// A frame opcode (RFC 6455 §5.2), including the reserved ones.
///
/// Reserved opcodes are representable so that a user of the raw policy can see and send
/// them (for an extension of their own); the standard policy refuses them with 1002.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: the continuation of a fragmented data message.
    Continuation,
    /// `0x1`: the first frame of a UTF-8 text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: the closing handshake.
    Close,
    /// `0x9`: a ping, to be answered with a pong.
    Ping,
    /// `0xA`: a pong.
    Pong,
    /// A reserved non-control opcode, `0x3..=0x7`.
    ReservedData(u8),
    /// A reserved control opcode, `0xB..=0xF`.
    ReservedControl(u8),
}

impl OpCode {
    /// The opcode for the low four bits of `nibble` (higher bits are ignored).
    pub fn from_nibble(nibble: u8) -> Self {
        match nibble & 0x0f {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            n @ 0x3..=0x7 => Self::ReservedData(n),
            n => Self::ReservedControl(n),
        }
    }

    /// The four-bit wire value. A `Reserved*` value outside its range is masked to four
    /// bits; build them with [`OpCode::from_nibble`] to stay in range.
    pub fn as_nibble(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
            Self::ReservedData(n) | Self::ReservedControl(n) => n & 0x0f,
        }
    }

    /// Control frames (opcodes with the high bit set) may not be fragmented and carry at
    /// most 125 bytes (RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        self.as_nibble() & 0x8 != 0
    }

    /// Whether the opcode is one RFC 6455 defines.
    pub fn is_reserved(self) -> bool {
        matches!(self, Self::ReservedData(_) | Self::ReservedControl(_))
    }
}

/// One WebSocket frame: FIN, the three RSV bits, the opcode and the (unmasked) payload.
///
/// Masking is not part of the value: it is applied by the encoder in the client role
/// and removed by the decoder in the server role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Whether this is the final fragment of a message (always true for control frames).
    pub fin: bool,
    /// RSV1, RSV2 and RSV3, in that order. Non-zero only with a negotiated extension.
    pub rsv: [bool; 3],
    /// The opcode.
    pub opcode: OpCode,
    /// The application data, unmasked.
    pub payload: Bytes,
}

impl Frame {
    /// A final frame with no RSV bits set.
    pub fn new(opcode: OpCode, payload: impl Into<Bytes>) -> Self {
        Self {
            fin: true,
            rsv: [false; 3],
            opcode,
            payload: payload.into(),
        }
    }

    /// A final text frame. The caller vouches that `text` is one whole message.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(OpCode::Text, Bytes::from(text.into()))
    }

    /// A final binary frame.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::new(OpCode::Binary, data)
    }

    /// A ping carrying `data` (at most 125 bytes to be sendable).
    pub fn ping(data: impl Into<Bytes>) -> Self {
        Self::new(OpCode::Ping, data)
    }

    /// A pong carrying `data` (at most 125 bytes to be sendable).
    pub fn pong(data: impl Into<Bytes>) -> Self {
        Self::new(OpCode::Pong, data)
    }

    /// A close frame with a status code and a reason (the OCaml `Frame.close`).
    pub fn close(code: CloseCode, reason: &str) -> Self {
        Self::new(OpCode::Close, CloseFrame::encode_payload(code, reason))
    }

    /// A close frame with an empty payload ("no status code", 1005 to the receiver).
    pub fn close_empty() -> Self {
        Self::new(OpCode::Close, Bytes::new())
    }

    /// Sets FIN.
    pub fn with_fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }

    /// Sets the RSV bits.
    pub fn with_rsv(mut self, rsv: [bool; 3]) -> Self {
        self.rsv = rsv;
        self
    }

    /// The bits of RSV1..RSV3 as they sit in the first header byte (`0x40 | 0x20 | 0x10`).
    pub fn rsv_bits(&self) -> u8 {
        (self.rsv[0] as u8) << 6 | (self.rsv[1] as u8) << 5 | (self.rsv[2] as u8) << 4
    }

    /// RSV1..RSV3 read from their place in a first header byte (the inverse of
    /// [`Frame::rsv_bits`]; other bits are ignored).
    pub fn rsv_from_bits(bits: u8) -> [bool; 3] {
        [bits & 0x40 != 0, bits & 0x20 != 0, bits & 0x10 != 0]
    }

    /// The header this frame is sent with, masked with `mask` if one is given.
    pub fn header(&self, mask: Option<[u8; 4]>) -> Header {
        Header {
            fin: self.fin,
            rsv: self.rsv_bits(),
            opcode: self.opcode,
            mask,
            payload_len: self.payload.len() as u64,
        }
    }

    /// Appends this frame's wire form to `out`, masked with `mask` if one is given.
    pub fn encode(&self, mask: Option<[u8; 4]>, out: &mut Vec<u8>) {
        self.header(mask).encode(out);
        match mask {
            Some(key) => extend_masked(out, &self.payload, key, 0),
            None => out.extend_from_slice(&self.payload),
        }
    }
}

/// The decoded first 2 to 14 bytes of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// FIN.
    pub fin: bool,
    /// RSV1..RSV3 as bits `0x40`, `0x20`, `0x10` (their place in the first byte).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length announced by the header.
    pub payload_len: u64,
}

/// The longest header: 2 bytes, an 8-byte length and a 4-byte key.
pub const MAX_HEADER_LEN: usize = 14;

impl Header {
    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a header (not an error: feed more
    /// bytes), and otherwise the header with the number of bytes it took. The only error
    /// a header can have by itself is a 64-bit length with the top bit set (§5.2); every
    /// other rule depends on the connection's role and state and is checked there.
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut at) = match b1 & 0x7f {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(b);
                    let len = u64::from_be_bytes(be);
                    // RFC 6455 §5.2: "the most significant bit MUST be 0".
                    if len >> 63 != 0 {
                        return Err(ProtocolError::LengthTopBitSet);
                    }
                    (len, 10)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        let mask = if masked {
            let Some(k) = buf.get(at..at + 4) else {
                return Ok(None);
            };
            at += 4;
            Some([k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        let header = Self {
            fin: b0 & 0x80 != 0,
            rsv: b0 & 0x70,
            opcode: OpCode::from_nibble(b0),
            mask,
            payload_len,
        };
        Ok(Some((header, at)))
    }

    /// Appends the header's wire form to `out`, with the shortest length encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let b0 = (self.fin as u8) << 7 | (self.rsv & 0x70) | self.opcode.as_nibble();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let len = self.payload_len;
        if len < 126 {
            out.extend_from_slice(&[b0, mask_bit | len as u8]);
        } else if let Ok(len) = u16::try_from(len) {
            out.extend_from_slice(&[b0, mask_bit | 126]);
            out.extend_from_slice(&len.to_be_bytes());
        } else {
            out.extend_from_slice(&[b0, mask_bit | 127]);
            out.extend_from_slice(&len.to_be_bytes());
        }
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
        }
    }

    /// The frame this header starts, with its (unmasked) payload.
    pub fn into_frame(self, payload: Bytes) -> Frame {
        Frame {
            fin: self.fin,
            rsv: Frame::rsv_from_bits(self.rsv),
            opcode: self.opcode,
            payload,
        }
    }

    /// The number of bytes [`Header::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xffff => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(buf: &[u8]) -> (Header, usize) {
        Header::decode(buf).unwrap().unwrap()
    }

    // RFC 6455 §5.7, "A single-frame unmasked text message".
    #[test]
    fn rfc_5_7_unmasked_hello() {
        let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (h, n) = decode_all(&wire);
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.payload_len, n),
            (true, OpCode::Text, None, 5, 2)
        );
        let mut out = Vec::new();
        Frame::text("Hello").encode(None, &mut out);
        assert_eq!(out, wire);
    }

    // RFC 6455 §5.7, "A single-frame masked text message".
    #[test]
    fn rfc_5_7_masked_hello() {
        let wire = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, n) = decode_all(&wire);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(n, 6);
        let mut out = Vec::new();
        Frame::text("Hello").encode(Some([0x37, 0xfa, 0x21, 0x3d]), &mut out);
        assert_eq!(out, wire);
    }

    // RFC 6455 §5.7, "A fragmented unmasked text message".
    #[test]
    fn rfc_5_7_fragmented_hello() {
        let mut out = Vec::new();
        Frame::new(OpCode::Text, &b"Hel"[..])
            .with_fin(false)
            .encode(None, &mut out);
        Frame::new(OpCode::Continuation, &b"lo"[..]).encode(None, &mut out);
        assert_eq!(out, [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
    }

    // RFC 6455 §5.7, ping and pong.
    #[test]
    fn rfc_5_7_ping_and_masked_pong() {
        let mut out = Vec::new();
        Frame::ping(&b"Hello"[..]).encode(None, &mut out);
        assert_eq!(out, [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        out.clear();
        Frame::pong(&b"Hello"[..]).encode(Some([0x37, 0xfa, 0x21, 0x3d]), &mut out);
        assert_eq!(
            out,
            [
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
    }

    // RFC 6455 §5.7, 256 bytes and 64 KiB binary messages in a single unmasked frame.
    #[test]
    fn rfc_5_7_extended_lengths() {
        let mut out = Vec::new();
        Frame::binary(vec![0u8; 256]).encode(None, &mut out);
        assert_eq!(out[..4], [0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(out.len(), 4 + 256);
        out.clear();
        Frame::binary(vec![0u8; 65536]).encode(None, &mut out);
        assert_eq!(out[..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        let (h, n) = decode_all(&out);
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn partial_headers_ask_for_more() {
        let mut out = Vec::new();
        Frame::binary(vec![1u8; 70_000]).encode(Some([1, 2, 3, 4]), &mut out);
        for cut in 0..14 {
            assert_eq!(Header::decode(&out[..cut]).unwrap(), None, "cut {cut}");
        }
        assert_eq!(decode_all(&out[..14]).1, 14);
    }

    #[test]
    fn top_bit_of_64_bit_length_is_an_error() {
        let wire = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(Header::decode(&wire), Err(ProtocolError::LengthTopBitSet));
    }

    #[test]
    fn every_opcode_round_trips() {
        for n in 0..16u8 {
            let op = OpCode::from_nibble(n);
            assert_eq!(op.as_nibble(), n);
            assert_eq!(op.is_control(), n >= 8);
            assert_eq!(op.is_reserved(), matches!(n, 3..=7 | 11..=15));
        }
    }

    #[test]
    fn rsv_bits_round_trip_through_a_header() {
        for bits in [0u8, 0x10, 0x20, 0x40, 0x70] {
            let frame = Frame::binary(&b"x"[..]).with_rsv(Frame::rsv_from_bits(bits));
            assert_eq!(frame.rsv_bits(), bits);
            let header = frame.header(None);
            assert_eq!(header.into_frame(frame.payload.clone()), frame);
        }
    }

    #[test]
    fn encoded_len_matches_encode() {
        for len in [0u64, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = Header {
                    fin: true,
                    rsv: 0x40,
                    opcode: OpCode::Binary,
                    mask,
                    payload_len: len,
                };
                let mut out = Vec::new();
                h.encode(&mut out);
                assert_eq!(out.len(), h.encoded_len());
                assert_eq!(decode_all(&out), (h, out.len()));
            }
        }
    }
}
