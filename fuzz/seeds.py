#!/usr/bin/env python3
"""Writes the seed corpora, fuzz/corpus/<target>/seed-*, from RFC 6455 examples.

Run from anywhere: python3 fuzz/seeds.py. Each target's input layout is described in
its source (fuzz_targets/*.rs and src/lib.rs).
"""

import pathlib

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])  # the masking key of RFC 6455 §5.7


def frame(b0, payload=b"", key=None, length=None):
    """A frame with first header byte `b0`, masked with `key` if given. `length`
    overrides the announced length (for truncated frames)."""
    n = len(payload) if length is None else length
    m = 0x80 if key else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 1 << 16:
        head = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def close_payload(code, reason=b""):
    return code.to_bytes(2, "big") + reason


def frames(key):
    """RFC 6455 §5.7's examples and friends, masked with `key` (or not)."""
    return {
        "hello": frame(0x81, b"Hello", key),
        "ping": frame(0x89, b"Hello", key),
        "pong": frame(0x8A, b"Hello", key),
        "fragmented-text": frame(0x01, b"Hel", key) + frame(0x80, b"lo", key),
        "fragmented-with-ping": frame(0x01, b"Hel", key)
        + frame(0x89, b"", key)
        + frame(0x80, b"lo", key),
        "binary-256": frame(0x82, bytes(range(256)), key),
        "binary-64k-truncated": frame(0x82, b"\0" * 64, key, length=65536),
        "close-1000": frame(0x88, close_payload(1000, b"bye"), key),
        "close-empty": frame(0x88, b"", key),
        "utf8-split": frame(0x01, "h\u00e9".encode()[:2], key)
        + frame(0x80, "h\u00e9".encode()[2:] + "\u20ac".encode(), key),
        "reserved": frame(0xC3, b"x", key) + frame(0x8B, b"", key),
    }


REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)

RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: {ACCEPT}\r\n"
)


def decoder_seeds(key):
    seeds = {}
    for name, wire in frames(key).items():
        seeds[name] = bytes([0x00]) + wire
        seeds[name + "-bytewise"] = bytes([0x01, 0x01]) + wire
    everything = b"".join(frames(key).values())
    seeds["all-in-pieces"] = bytes([0x03, 0x02, 0x07, 0x81]) + everything
    seeds["raw-all"] = bytes([0x08]) + everything
    seeds["small-limits"] = bytes([0x30]) + frames(key)["binary-256"]
    return seeds


def connection_seeds(key):
    """Programs for the connection targets: 4 configuration bytes, then operations."""

    def feed(wire):
        ops = b""
        for i in range(0, len(wire), 255):
            part = wire[i : i + 255]
            ops += bytes([0x00, len(part)]) + part
        return ops

    config = bytes([0x00, 0xFF, 0xFF, 0x00])
    fragmented = bytes([0x00, 0x03, 0x05, 0x00])
    keepalive = bytes([0x00, 0xFF, 0xFF, 0x21])
    raw = bytes([0x01, 0xFF, 0xFF, 0x00])
    f = frames(key)
    return {
        "echo-and-close": config
        + feed(f["hello"])
        + bytes([0x03, 5])
        + b"Hello"
        + bytes([0x05, 2])
        + b"hi"
        + bytes([0x07, 0x03, 0xE8, 3])
        + b"bye"
        + feed(f["close-1000"]),
        "peer-closes": config + feed(f["ping"]) + feed(f["close-1000"]) + bytes([0x0C]),
        "fragmented-send": fragmented
        + bytes([0x04, 20])
        + bytes(range(20))
        + bytes([0x03, 7])
        + b"fragmen"
        + feed(f["fragmented-text"]),
        "peer-frames": config
        + bytes([0x01, 0x01, 3])
        + b"Hel"
        + bytes([0x01, 0x89, 0])
        + bytes([0x01, 0x80, 2])
        + b"lo"
        + bytes([0x01, 0x88, 2, 0x03, 0xE8]),
        "read-buffer": config + bytes([0x02, len(f["hello"])]) + f["hello"],
        "keepalive": keepalive
        + bytes([0x09, 0x00, 0x64, 0x0A, 0x0B, 0x0B, 0x0B])
        + feed(f["pong"])
        + bytes([0x0B, 0x0B, 0x0B]),
        "close-timeout": keepalive + bytes([0x07, 0x03, 0xE9, 0, 0x0B, 0x0B, 0x0B]),
        "raw-policy": raw
        + feed(f["reserved"])
        + bytes([0x08, 0x43, 1])
        + b"x"
        + feed(f["close-1000"])
        + bytes([0x08, 0x88, 2, 0x03, 0xE8]),
        "policy-switch": config
        + bytes([0x0D, 0x01])
        + feed(f["fragmented-text"][:4])
        + bytes([0x0D, 0x00])
        + feed(f["fragmented-text"][4:]),
    }


def round_trip_seeds():
    return {
        "masked-hello": frame(0x81, b"Hello", KEY),
        "frames": bytes([0x81, 0x85])
        + b"Hello"
        + bytes([0x89, 0x05])
        + b"Hello"
        + bytes([0x02, 0xFE, 0x01, 0x00])
        + bytes(range(256))
        + bytes([0x80, 0x7F, 0x00, 0x10])
        + b"tail",
        "text-message": bytes([0x01, 0x04, 0x00, 0x07, 0x03]) + "h\u00e9llo w\u00f6rld".encode(),
        "binary-message": bytes([0x00, 0x00, 0x00, 0x00, 0x01]) + bytes(range(200)),
        # For the output part: flags 0x03 (default write chunk, large messages), no
        # fragmenting; a message of 64 KiB + 5, encoded, then written 9 bytes at a time
        # over one slice and 17 over two; one of 64 KiB, encoded, then 2 049 bytes
        # written over up to three slices; the rest at the end.
        "pooled-output": bytes(
            [0x03, 0x00, 0x00, 0x01, 0x05, 0x07, 0x05, 0x06, 0x00, 0x00, 0x01, 0x06, 0x01, 0x00]
            + [0x02, 0x01, 0x00, 0x09, 0x05, 0x06, 0x02, 0x01, 0x00]
        ),
    }


def inflate_seeds():
    """Frames for the `inflate` target: flags, then (head, length, body) triples."""
    import zlib

    def rec(head, body):
        return bytes([head]) + len(body).to_bytes(2, "big") + body

    text = b'{"id": 1, "name": "websocket", "ok": true}'
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    by_zlib = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return {
        # Compressed by the target's own deflater (0x20), final, RSV1, text.
        "compressed-text": bytes([0x00]) + rec(0xE1, text) + rec(0xE2, text * 4),
        # Fragmented: RSV1 on the first frame only, then a continuation, a ping between.
        "fragments": bytes([0x08]) + rec(0x61, text) + rec(0x89, b"p") + rec(0x80, b""),
        # zlib's own output with the tail stripped, to the decompressor alone (0x40).
        "raw-zlib": bytes([0x40]) + by_zlib[:-4],
        # RSV1 on a control frame and on a continuation: refused.
        "rsv1-ping": bytes([0x00]) + rec(0xC9, b"x"),
    }


def main():
    targets = {
        "frame_decoder_server": decoder_seeds(KEY),
        "frame_decoder_client": decoder_seeds(None),
        "server_connection": connection_seeds(KEY),
        "client_connection": connection_seeds(None),
        "round_trip": round_trip_seeds(),
        "handshake_request": {
            "rfc-request": bytes([0x00]) + REQUEST,
            "rfc-request-pieces": bytes([0x03, 0x01, 0x07, 0x40]) + REQUEST,
            "rfc-request-leftover": bytes([0x00]) + REQUEST + frame(0x81, b"Hello", KEY),
            "rfc-request-small-limits": bytes([0x08]) + REQUEST,
            "version-8": bytes([0x00]) + REQUEST.replace(b"Version: 13", b"Version: 8"),
            "post": bytes([0x00]) + REQUEST.replace(b"GET", b"POST"),
        },
        "handshake_response": {
            "101": bytes([0x80]) + RESPONSE + b"\r\n",
            "101-pieces": bytes([0x83]) + RESPONSE + b"\r\n",
            "101-subprotocol": bytes([0xC0]) + RESPONSE + b"Sec-WebSocket-Protocol: chat\r\n\r\n",
            "101-leftover": bytes([0x80]) + RESPONSE + b"\r\n" + frame(0x81, b"Hello"),
            "rfc-accept": bytes([0x00])
            + RESPONSE.replace(b"{ACCEPT}", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            + b"\r\n",
            "403": bytes([0x00])
            + b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope",
        },
    }
    targets["inflate"] = inflate_seeds()
    for target, seeds in targets.items():
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (directory / f"seed-{name}").write_bytes(data)


if __name__ == "__main__":
    main()
