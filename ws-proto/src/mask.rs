//! Payload masking (RFC 6455 §5.3).
//!
//! Masking is an XOR with a repeating 4-byte key, so it is its own inverse: the same
//! function masks on the way out and unmasks on the way in. It runs over every payload
//! byte a client sends and a server receives, so it is written for throughput: the bulk
//! is processed eight bytes at a time with the key widened to a `u64`, in plain safe code
//! that the compiler turns into SIMD on its own. The reference byte loop below is what
//! the tests compare it with.
//!
//! On x86-64 the same code is also compiled for AVX2 and chosen at run time when the
//! CPU has it (the private module `wide`): the baseline target only lets the compiler
//! use 16-byte SSE2 registers, and on the AMD EPYC host of the benchmarks that in-place
//! XOR ran at 0.54-1.05× `copy_from_slice` at 64 KiB and 0.61-1.10× at 1 MiB, under the
//! 0.8× it is meant to reach in about half the runs; compiled for AVX2 it ran 1.1-1.9×
//! as fast (BENCHMARKS.md, "masking with AVX2"). That choice is this crate's only
//! `unsafe`.

/// XORs `buf` with `key`, as if `buf` started `offset` bytes into a masked payload.
///
/// `offset` lets a payload that arrives in pieces be unmasked piece by piece: pass the
/// number of payload bytes that came before this piece (only `offset % 4` matters).
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    #[cfg(target_arch = "x86_64")]
    if buf.len() >= wide::WORTH_IT && wide::available() {
        wide::apply_mask(buf, key, offset);
        return;
    }
    apply_mask_portable(buf, key, offset);
}

/// [`apply_mask`] in code the compiler vectorises for whatever the target allows.
#[inline(always)]
fn apply_mask_portable(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let (key, wide) = aligned_key(key, offset);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    // The tail is shorter than a word; it starts at a multiple of 8, so the key is aligned.
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

/// Appends `src` to `dst`, masked with `key` as if `src` started `offset` bytes into
/// the payload: the copy a client makes of a payload it cannot mask in place.
///
/// Each byte is read once and written once, masked. `Vec::extend` from a zip of two
/// slices knows the exact length, so it writes straight into the reserved room: no
/// zeroing first, in safe code, and the compiler vectorises the XOR. Against zeroing
/// 8 KiB pieces and masking into them (the way before), 64 KiB took 1.56 µs instead
/// of 1.80 µs in the criterion benchmark, and 1.69 µs instead of 2.06 µs spread over
/// 64 connections' buffers, as fast as a plain copy (BENCHMARKS.md). Short payloads
/// keep the zeroed room, which is cheaper than setting up the key block.
pub fn extend_masked(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    #[cfg(target_arch = "x86_64")]
    if src.len() >= SHORT && wide::available() {
        wide::extend_masked(dst, src, key, offset);
        return;
    }
    extend_masked_portable(dst, src, key, offset);
}

/// Below this many bytes, [`extend_masked`] zeroes the room and masks into it, which
/// is cheaper than setting up the key block.
const SHORT: usize = 1024;

/// [`extend_masked`] in code the compiler vectorises for whatever the target allows.
#[inline(always)]
fn extend_masked_portable(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    /// How many bytes one step takes: the length of the repeated key.
    const BLOCK: usize = 256;
    if src.len() < SHORT {
        let at = dst.len();
        dst.resize(at + src.len(), 0);
        mask_into(&mut dst[at..], src, key, offset);
        return;
    }
    let (key, _) = aligned_key(key, offset);
    let mut block = [0u8; BLOCK];
    for k in block.chunks_exact_mut(4) {
        k.copy_from_slice(&key);
    }
    dst.reserve(src.len());
    // Each step starts a multiple of four bytes after the one before, so the block
    // stays lined up with the key.
    for piece in src.chunks(BLOCK) {
        dst.extend(piece.iter().zip(&block).map(|(byte, k)| byte ^ k));
    }
}

/// The masking loops compiled for AVX2, for x86-64 CPUs that have it.
///
/// The bodies are the portable functions above, inlined into functions compiled with
/// AVX2 enabled, so the compiler's vectorisation uses 32-byte registers. Calling such
/// a function is `unsafe` (on a CPU without AVX2 it would be undefined behaviour, an
/// illegal instruction at best), so each call below is made only after [`available`]
/// checked the CPU at run time.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod wide {
    /// From how many bytes [`apply_mask`] takes the AVX2 path: two of its 32-byte
    /// steps. Shorter payloads (control frames, the smallest messages) stay on the
    /// portable path and skip the feature check; that cut is a choice, not measured.
    pub(super) const WORTH_IT: usize = 64;

    /// Whether this CPU has AVX2. std caches the answer after the first call, so this
    /// is a load and a test.
    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
    }

    /// [`super::apply_mask`] with AVX2. The caller has checked [`available`].
    pub(super) fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
        // SAFETY: `apply_mask_avx2` is safe code compiled with AVX2 enabled; the only
        // requirement for calling it is that the CPU supports AVX2, which the caller
        // checked with `available()` (std's run-time detection) just before.
        unsafe { apply_mask_avx2(buf, key, offset) }
    }

    /// [`super::extend_masked`] with AVX2. The caller has checked [`available`].
    pub(super) fn extend_masked(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
        // SAFETY: as in `apply_mask` above: safe code compiled with AVX2, called only
        // after the caller checked that the CPU supports AVX2.
        unsafe { extend_masked_avx2(dst, src, key, offset) }
    }

    #[target_feature(enable = "avx2")]
    fn apply_mask_avx2(buf: &mut [u8], key: [u8; 4], offset: usize) {
        super::apply_mask_portable(buf, key, offset);
    }

    #[target_feature(enable = "avx2")]
    fn extend_masked_avx2(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
        super::extend_masked_portable(dst, src, key, offset);
    }

    #[cfg(test)]
    mod tests {
        use super::super::{apply_mask_portable, apply_mask_reference, extend_masked_portable};

        /// Both paths, whichever the dispatch would pick, against the byte loop: every
        /// length up to a few blocks past the vector width, every offset, odd starts.
        #[test]
        fn avx2_and_portable_paths_match_the_reference() {
            let data: Vec<u8> = (0..4_200u32).map(|i| (i * 7 + i / 5) as u8).collect();
            let key = [0x9d, 0x04, 0xe1, 0x5a];
            let lengths = (0..=300).chain([1_023, 1_024, 1_025, 2_049, 4_096, 4_100 - 7]);
            for len in lengths {
                for start in [0, 1, 3] {
                    for offset in 0..4 {
                        let src = &data[start..start + len];
                        let mut expected = src.to_vec();
                        apply_mask_reference(&mut expected, key, offset);

                        let mut portable = src.to_vec();
                        apply_mask_portable(&mut portable, key, offset);
                        assert_eq!(portable, expected, "portable, len {len}");
                        let mut copied = b"x".to_vec();
                        extend_masked_portable(&mut copied, src, key, offset);
                        assert_eq!(copied[1..], expected[..], "portable copy, len {len}");

                        if super::available() {
                            let mut wide = src.to_vec();
                            super::apply_mask(&mut wide, key, offset);
                            assert_eq!(wide, expected, "avx2, len {len}, offset {offset}");
                            let mut copied = b"x".to_vec();
                            super::extend_masked(&mut copied, src, key, offset);
                            assert_eq!(copied[1..], expected[..], "avx2 copy, len {len}");
                        }
                    }
                }
            }
        }
    }
}

/// Writes `src` masked into `dst` (of the same length), as [`apply_mask`] would mask
/// it in place.
fn mask_into(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    debug_assert_eq!(dst.len(), src.len());
    let (key, wide) = aligned_key(key, offset);
    let mut to = dst.chunks_exact_mut(8);
    let mut from = src.chunks_exact(8);
    for (out, word) in (&mut to).zip(&mut from) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        out.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ wide).to_ne_bytes());
    }
    let tail = to.into_remainder().iter_mut().zip(from.remainder());
    for ((out, byte), k) in tail.zip(key.iter().cycle()) {
        *out = byte ^ k;
    }
}

/// The plain byte-by-byte definition of masking, kept as the reference for tests.
pub fn apply_mask_reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

/// `key` rotated so that its first byte lines up with the first byte of a piece that
/// starts `offset` bytes into the payload, and the same widened to a word for the
/// eight-bytes-at-a-time loops.
fn aligned_key(key: [u8; 4], offset: usize) -> ([u8; 4], u64) {
    let s = offset % 4;
    let key = [key[s], key[(s + 1) % 4], key[(s + 2) % 4], key[(s + 3) % 4]];
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    (key, wide)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator so the tests need no extra crate.
    fn fill(buf: &mut [u8], seed: &mut u64) {
        for b in buf {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (*seed >> 33) as u8;
        }
    }

    #[test]
    fn matches_reference_for_every_length_and_offset() {
        let mut seed = 7;
        for len in 0..=300 {
            for offset in 0..=3 {
                let mut data = vec![0u8; len];
                fill(&mut data, &mut seed);
                let mut key = [0u8; 4];
                fill(&mut key, &mut seed);
                let mut fast = data.clone();
                let mut slow = data.clone();
                apply_mask(&mut fast, key, offset);
                apply_mask_reference(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn matches_reference_on_large_random_inputs_at_unaligned_starts() {
        let mut seed = 99;
        for round in 0..8 {
            let len = 65_536 + round * 1_237;
            let mut data = vec![0u8; len];
            fill(&mut data, &mut seed);
            let key = [0x37, 0xfa, 0x21, 0x3d];
            // Start at an odd address inside the allocation as well.
            let start = round % 8;
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast[start..], key, round);
            apply_mask_reference(&mut slow[start..], key, round);
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn extend_masked_matches_copy_then_reference() {
        let mut seed = 7;
        for len in [
            0, 1, 3, 7, 8, 9, 15, 255, 256, 257, 1023, 1024, 1025, 1283, 2047, 8191, 8192, 8193,
            20_003, 70_000,
        ] {
            let mut src = vec![0u8; len];
            fill(&mut src, &mut seed);
            for offset in 0..4 {
                let key = [0x12, 0x34, 0x56, 0x78];
                let mut expected = b"head".to_vec();
                let mut tail = src.clone();
                apply_mask_reference(&mut tail, key, offset);
                expected.extend_from_slice(&tail);
                let mut got = b"head".to_vec();
                extend_masked(&mut got, &src, key, offset);
                assert_eq!(got, expected, "len {len}, offset {offset}");
            }
        }
    }

    #[test]
    fn masking_twice_restores_the_input() {
        let original: Vec<u8> = (0..=255).collect();
        let mut data = original.clone();
        apply_mask(&mut data, [1, 2, 3, 4], 2);
        assert_ne!(data, original);
        apply_mask(&mut data, [1, 2, 3, 4], 2);
        assert_eq!(data, original);
    }

    #[test]
    fn piecewise_unmasking_equals_whole() {
        let mut seed = 3;
        let mut data = vec![0u8; 1000];
        fill(&mut data, &mut seed);
        let key = [9, 8, 7, 6];
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        let mut pieces = data.clone();
        let mut at = 0;
        for step in [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233] {
            let end = (at + step).min(pieces.len());
            apply_mask(&mut pieces[at..end], key, at);
            at = end;
        }
        apply_mask(&mut pieces[at..], key, at);
        assert_eq!(whole, pieces);
    }
}
