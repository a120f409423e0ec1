//! Streaming sealing for blobs: the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár,
//! "Online authenticated-encryption and its nonce-reuse misuse-resistance", 2015) over
//! XChaCha20-Poly1305.
//!
//! Layout: a header `version (1) || nonce prefix (19 random bytes)`, then chunks of
//! [`CHUNK_LEN`] plaintext bytes, each sealed with its own tag. Chunk `i` is sealed under the
//! nonce `prefix || i as u32 big-endian || last`, where `last` is 1 for the final chunk and 0
//! otherwise, and with the blob's associated data ([`blob_aad`](crate::aead::blob_aad)). Every
//! non-final chunk is full and the final chunk is strictly shorter (possibly empty), so a
//! reader knows where chunks end without lookahead, and a stream that is reordered, loses a
//! chunk, or is cut anywhere — even at a chunk boundary — fails to open.

use crate::aead::{DataKey, TAG_LEN};
use bytes::{Buf, Bytes, BytesMut};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use rand::{CryptoRng, RngCore};
use std::io;
use zeroize::{Zeroize, Zeroizing};

/// The format version written first in every sealed stream.
pub const STREAM_VERSION: u8 = 1;
/// Plaintext bytes per chunk (64 KiB).
pub const CHUNK_LEN: usize = 64 * 1024;
/// Length of the random nonce prefix.
pub const PREFIX_LEN: usize = 19;
/// Length of the header: version and nonce prefix.
pub const HEADER_LEN: usize = 1 + PREFIX_LEN;
const SEALED_CHUNK_LEN: usize = CHUNK_LEN + TAG_LEN;

/// The sealed length of a blob of `plain_len` bytes.
pub fn sealed_len(plain_len: u64) -> u64 {
    let chunks = plain_len / CHUNK_LEN as u64 + 1;
    (HEADER_LEN as u64)
        .saturating_add(plain_len)
        .saturating_add(chunks.saturating_mul(TAG_LEN as u64))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The nonce of chunk `counter`, or an error past 2^32 chunks (256 TiB).
fn chunk_nonce(prefix: &[u8; PREFIX_LEN], counter: u64, last: bool) -> io::Result<XNonce> {
    let counter = u32::try_from(counter).map_err(|_| {
        invalid("blob too large for one sealed stream (over 2^32 chunks)".to_owned())
    })?;
    let mut nonce = XNonce::default();
    nonce[..PREFIX_LEN].copy_from_slice(prefix);
    nonce[PREFIX_LEN..PREFIX_LEN + 4].copy_from_slice(&counter.to_be_bytes());
    nonce[PREFIX_LEN + 4] = u8::from(last);
    Ok(nonce)
}

struct Sealer {
    cipher: XChaCha20Poly1305,
    aad: Vec<u8>,
    prefix: [u8; PREFIX_LEN],
    /// The index of the next chunk.
    counter: u64,
    /// The header, until it has been emitted.
    header: Option<Bytes>,
    input: BoxStream<'static, io::Result<Bytes>>,
    /// Input received but not yet moved into `chunk`.
    pending: Bytes,
    /// Plaintext of the chunk being filled.
    chunk: Zeroizing<Vec<u8>>,
    input_done: bool,
    done: bool,
}

impl Sealer {
    fn seal_chunk(&mut self, last: bool) -> io::Result<Bytes> {
        let nonce = chunk_nonce(&self.prefix, self.counter, last)?;
        let mut buf = std::mem::replace(&mut *self.chunk, Vec::with_capacity(SEALED_CHUNK_LEN));
        if let Err(e) = self.cipher.encrypt_in_place(&nonce, &self.aad, &mut buf) {
            buf.zeroize();
            return Err(io::Error::other(format!(
                "sealing a blob chunk failed: {e}"
            )));
        }
        self.counter += 1;
        Ok(Bytes::from(buf))
    }

    async fn step(mut self) -> Option<(io::Result<Bytes>, Self)> {
        if self.done {
            return None;
        }
        if let Some(header) = self.header.take() {
            return Some((Ok(header), self));
        }
        loop {
            let room = CHUNK_LEN - self.chunk.len();
            let take = room.min(self.pending.len());
            self.chunk.extend_from_slice(&self.pending.split_to(take));
            if self.chunk.len() == CHUNK_LEN {
                let sealed = self.seal_chunk(false);
                self.done = sealed.is_err();
                return Some((sealed, self));
            }
            if self.input_done {
                self.done = true;
                let sealed = self.seal_chunk(true);
                return Some((sealed, self));
            }
            match self.input.next().await {
                Some(Ok(bytes)) => self.pending = bytes,
                Some(Err(e)) => {
                    self.done = true;
                    return Some((Err(e), self));
                }
                None => self.input_done = true,
            }
        }
    }
}

/// Seals a plaintext stream under `key`, bound to `aad`; the nonce prefix comes from `rng`.
/// Yields the header, then one item per sealed chunk; input errors are passed through and end
/// the stream.
pub fn seal_stream(
    key: DataKey,
    aad: Vec<u8>,
    input: BoxStream<'static, io::Result<Bytes>>,
    rng: &mut (impl RngCore + CryptoRng),
) -> BoxStream<'static, io::Result<Bytes>> {
    let mut prefix = [0u8; PREFIX_LEN];
    rng.fill_bytes(&mut prefix);
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.push(STREAM_VERSION);
    header.extend_from_slice(&prefix);
    let sealer = Sealer {
        cipher: key.cipher(),
        aad,
        prefix,
        counter: 0,
        header: Some(Bytes::from(header)),
        input,
        pending: Bytes::new(),
        chunk: Zeroizing::new(Vec::with_capacity(SEALED_CHUNK_LEN)),
        input_done: false,
        done: false,
    };
    stream::unfold(sealer, Sealer::step).boxed()
}

struct Opener {
    cipher: XChaCha20Poly1305,
    aad: Vec<u8>,
    /// Known once the header has been read.
    prefix: Option<[u8; PREFIX_LEN]>,
    /// The index of the next chunk.
    counter: u64,
    /// Sealed bytes received and not yet opened.
    buf: BytesMut,
    input: BoxStream<'static, io::Result<Bytes>>,
    input_done: bool,
    done: bool,
}

impl Opener {
    fn open_chunk(
        &mut self,
        prefix: &[u8; PREFIX_LEN],
        sealed: BytesMut,
        last: bool,
    ) -> io::Result<Bytes> {
        let nonce = chunk_nonce(prefix, self.counter, last)?;
        let mut buf = Vec::from(sealed);
        self.cipher
            .decrypt_in_place(&nonce, &self.aad, &mut buf)
            .map_err(|_| {
                invalid(if last {
                    format!(
                        "sealed blob: final chunk {} failed authentication; the blob was cut short \
                         or tampered with, or belongs to another record",
                        self.counter
                    )
                } else {
                    format!(
                        "sealed blob: chunk {} failed authentication; the blob was tampered with, \
                         reordered or has lost a chunk, or belongs to another record",
                        self.counter
                    )
                })
            })?;
        self.counter += 1;
        Ok(Bytes::from(buf))
    }

    /// The next plaintext chunk or the error that ends the stream; `None` when more input is
    /// needed first. Sets `done` once the final chunk is taken.
    fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        let prefix = match self.prefix {
            Some(prefix) => prefix,
            None if self.buf.len() >= HEADER_LEN => {
                let version = self.buf[0];
                if version != STREAM_VERSION {
                    return Some(Err(invalid(format!(
                        "sealed blob has unknown format version {version}; it was not written by \
                         this version of Seuil"
                    ))));
                }
                let mut prefix = [0u8; PREFIX_LEN];
                prefix.copy_from_slice(&self.buf[1..HEADER_LEN]);
                self.buf.advance(HEADER_LEN);
                self.prefix = Some(prefix);
                prefix
            }
            None if self.input_done => {
                return Some(Err(invalid(format!(
                    "sealed blob is truncated: it ends inside its {HEADER_LEN}-byte header"
                ))));
            }
            None => return None,
        };
        if self.buf.len() >= SEALED_CHUNK_LEN {
            let sealed = self.buf.split_to(SEALED_CHUNK_LEN);
            return Some(self.open_chunk(&prefix, sealed, false));
        }
        if !self.input_done {
            return None;
        }
        if self.buf.is_empty() {
            return Some(Err(invalid(format!(
                "sealed blob is truncated: it ends after chunk {} without its final chunk",
                self.counter
            ))));
        }
        if self.buf.len() < TAG_LEN {
            return Some(Err(invalid(format!(
                "sealed blob is truncated: it ends inside chunk {}",
                self.counter
            ))));
        }
        let sealed = self.buf.split();
        self.done = true;
        Some(self.open_chunk(&prefix, sealed, true))
    }

    async fn step(mut self) -> Option<(io::Result<Bytes>, Self)> {
        if self.done {
            return None;
        }
        loop {
            if let Some(item) = self.next_chunk() {
                // After an error or the final chunk, nothing more is yielded.
                self.done |= item.is_err();
                return Some((item, self));
            }
            match self.input.next().await {
                Some(Ok(bytes)) => self.buf.extend_from_slice(&bytes),
                Some(Err(e)) => {
                    self.done = true;
                    return Some((Err(e), self));
                }
                None => self.input_done = true,
            }
        }
    }
}

/// Opens a stream produced by [`seal_stream`] with the same key and associated data, whatever
/// the boundaries of the input items. Yields each plaintext chunk once it has been verified;
/// fails with [`io::ErrorKind::InvalidData`] on a bad tag, reordered or missing chunks, or a
/// truncated stream, and then ends.
pub fn open_stream(
    key: DataKey,
    aad: Vec<u8>,
    input: BoxStream<'static, io::Result<Bytes>>,
) -> BoxStream<'static, io::Result<Bytes>> {
    let opener = Opener {
        cipher: key.cipher(),
        aad,
        prefix: None,
        counter: 0,
        buf: BytesMut::new(),
        input,
        input_done: false,
        done: false,
    };
    stream::unfold(opener, Opener::step).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aead::blob_aad;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::{Rng, RngCore, SeedableRng};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a test runtime")
            .block_on(f)
    }

    /// Splits `data` into random pieces of 1..=max bytes (and a few empty ones).
    fn rechunk(data: &[u8], rng: &mut StdRng, max: usize) -> BoxStream<'static, io::Result<Bytes>> {
        let mut pieces = Vec::new();
        let mut rest = Bytes::copy_from_slice(data);
        while !rest.is_empty() {
            if rng.gen_ratio(1, 20) {
                pieces.push(Ok(Bytes::new()));
            }
            let n = rng.gen_range(1..=max).min(rest.len());
            pieces.push(Ok(rest.split_to(n)));
        }
        stream::iter(pieces).boxed()
    }

    fn collect(s: BoxStream<'static, io::Result<Bytes>>) -> io::Result<Vec<u8>> {
        block_on(async move {
            let items: Vec<io::Result<Bytes>> = s.collect().await;
            let mut out = Vec::new();
            for item in items {
                out.extend_from_slice(&item?);
            }
            Ok(out)
        })
    }

    fn plaintext(len: usize, seed: u64) -> Vec<u8> {
        let mut data = vec![0u8; len];
        StdRng::seed_from_u64(seed).fill_bytes(&mut data);
        data
    }

    fn seal_all(key: &DataKey, aad: &[u8], plain: &[u8], rng: &mut StdRng) -> Vec<u8> {
        let input = rechunk(plain, rng, 100_000);
        collect(seal_stream(key.clone(), aad.to_vec(), input, rng)).expect("sealing works")
    }

    fn open_all(key: &DataKey, aad: &[u8], sealed: &[u8], rng: &mut StdRng) -> io::Result<Vec<u8>> {
        let input = rechunk(sealed, rng, 100_000);
        collect(open_stream(key.clone(), aad.to_vec(), input))
    }

    fn setup(seed: u64) -> (StdRng, DataKey, Vec<u8>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let key = DataKey::generate(&mut rng);
        (rng, key, blob_aad("delivery.video", "v-1", "alice"))
    }

    fn expect_invalid(r: io::Result<Vec<u8>>, needle: &str) {
        match r {
            Ok(_) => panic!("opened although it should not"),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
                assert!(
                    e.to_string().contains(needle),
                    "{e:?} does not mention {needle:?}"
                );
            }
        }
    }

    #[test]
    fn lengths() {
        let (mut rng, key, aad) = setup(1);
        for len in [0, 1, CHUNK_LEN - 1, CHUNK_LEN, CHUNK_LEN + 1, 2 * CHUNK_LEN] {
            let sealed = seal_all(&key, &aad, &plaintext(len, 1), &mut rng);
            assert_eq!(
                sealed.len() as u64,
                sealed_len(len as u64),
                "plaintext of {len}"
            );
        }
        assert_eq!(sealed_len(0), (HEADER_LEN + TAG_LEN) as u64);
    }

    #[test]
    fn truncation_at_chunk_boundaries_fails() {
        let (mut rng, key, aad) = setup(2);
        let plain = plaintext(3 * CHUNK_LEN + 5, 2);
        let sealed = seal_all(&key, &aad, &plain, &mut rng);
        expect_invalid(open_all(&key, &aad, &sealed[..0], &mut rng), "header");
        expect_invalid(
            open_all(&key, &aad, &sealed[..HEADER_LEN - 1], &mut rng),
            "header",
        );
        for chunks in 0..=3 {
            let cut = HEADER_LEN + chunks * SEALED_CHUNK_LEN;
            expect_invalid(
                open_all(&key, &aad, &sealed[..cut], &mut rng),
                "without its final chunk",
            );
        }
        expect_invalid(
            open_all(&key, &aad, &sealed[..sealed.len() - 1], &mut rng),
            "final chunk 3",
        );
        expect_invalid(
            open_all(
                &key,
                &aad,
                &sealed[..HEADER_LEN + SEALED_CHUNK_LEN + 7],
                &mut rng,
            ),
            "ends inside chunk 1",
        );
        // A plaintext that fills its chunks exactly still ends with an (empty) final chunk.
        let full = seal_all(&key, &aad, &plaintext(2 * CHUNK_LEN, 3), &mut rng);
        expect_invalid(
            open_all(&key, &aad, &full[..full.len() - TAG_LEN], &mut rng),
            "without its final chunk",
        );
        assert_eq!(
            open_all(&key, &aad, &full, &mut rng).expect("opens"),
            plaintext(2 * CHUNK_LEN, 3)
        );
    }

    #[test]
    fn reordered_dropped_or_foreign_chunks_fail() {
        let (mut rng, key, aad) = setup(3);
        let plain = plaintext(3 * CHUNK_LEN + 5, 3);
        let sealed = seal_all(&key, &aad, &plain, &mut rng);
        let chunk = |i: usize| {
            &sealed[HEADER_LEN + i * SEALED_CHUNK_LEN..HEADER_LEN + (i + 1) * SEALED_CHUNK_LEN]
        };
        let tail = &sealed[HEADER_LEN + 3 * SEALED_CHUNK_LEN..];

        let swapped = [&sealed[..HEADER_LEN], chunk(1), chunk(0), chunk(2), tail].concat();
        expect_invalid(open_all(&key, &aad, &swapped, &mut rng), "chunk 0 failed");
        let dropped = [&sealed[..HEADER_LEN], chunk(0), chunk(2), tail].concat();
        expect_invalid(open_all(&key, &aad, &dropped, &mut rng), "chunk 1 failed");
        let duplicated = [&sealed[..HEADER_LEN], chunk(0), chunk(0), chunk(2), tail].concat();
        expect_invalid(
            open_all(&key, &aad, &duplicated, &mut rng),
            "chunk 1 failed",
        );

        // A chunk from another blob (another nonce prefix) fails.
        let other = seal_all(&key, &aad, &plain, &mut rng);
        let spliced = [
            &sealed[..HEADER_LEN + SEALED_CHUNK_LEN],
            &other[HEADER_LEN + SEALED_CHUNK_LEN..],
        ]
        .concat();
        expect_invalid(open_all(&key, &aad, &spliced, &mut rng), "chunk 1 failed");

        // Wrong associated data or key fails on the first chunk.
        let wrong = blob_aad("delivery.video", "v-1", "bob");
        expect_invalid(open_all(&key, &wrong, &sealed, &mut rng), "chunk 0 failed");
        let other_key = DataKey::generate(&mut rng);
        expect_invalid(
            open_all(&other_key, &aad, &sealed, &mut rng),
            "chunk 0 failed",
        );

        // Unknown version.
        let mut v2 = sealed.clone();
        v2[0] = 2;
        expect_invalid(open_all(&key, &aad, &v2, &mut rng), "version 2");
        // Trailing garbage makes the final chunk wrong.
        let longer = [&sealed[..], &[0u8]].concat();
        expect_invalid(open_all(&key, &aad, &longer, &mut rng), "final chunk 3");
    }

    #[test]
    fn yields_verified_chunks_before_an_error() {
        let (mut rng, key, aad) = setup(4);
        let plain = plaintext(2 * CHUNK_LEN + 10, 4);
        let mut sealed = seal_all(&key, &aad, &plain, &mut rng);
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        let items: Vec<io::Result<Bytes>> =
            block_on(open_stream(key, aad, rechunk(&sealed, &mut rng, 5000)).collect());
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0].as_ref().expect("chunk 0 is fine")[..],
            plain[..CHUNK_LEN]
        );
        assert_eq!(
            items[1].as_ref().expect("chunk 1 is fine")[..],
            plain[CHUNK_LEN..2 * CHUNK_LEN]
        );
        assert!(items[2].is_err());
    }

    #[test]
    fn input_errors_pass_through() {
        let (mut rng, key, aad) = setup(5);
        let failing = || {
            stream::iter(vec![
                Ok(Bytes::from_static(b"abc")),
                Err(io::Error::other("disk gone")),
            ])
            .boxed()
        };
        let sealed = collect(seal_stream(key.clone(), aad.clone(), failing(), &mut rng));
        assert_eq!(
            sealed.map_err(|e| e.to_string()),
            Err("disk gone".to_owned())
        );
        let opened = collect(open_stream(key, aad, failing()));
        assert_eq!(
            opened.map_err(|e| e.to_string()),
            Err("disk gone".to_owned())
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn roundtrip_with_any_chunking(
            size_pick in 0usize..8,
            random_size in 0usize..(3 * CHUNK_LEN),
            max_piece in 1usize..(2 * SEALED_CHUNK_LEN),
            seed in any::<u64>(),
        ) {
            let len = [0, 1, CHUNK_LEN - 1, CHUNK_LEN, CHUNK_LEN + 1, 1 << 20, random_size, random_size][size_pick];
            let (mut rng, key, aad) = setup(seed);
            let plain = plaintext(len, seed);
            let input = rechunk(&plain, &mut rng, max_piece);
            let sealed = collect(seal_stream(key.clone(), aad.clone(), input, &mut rng)).expect("seals");
            prop_assert_eq!(sealed.len() as u64, sealed_len(len as u64));
            let opened = collect(open_stream(key.clone(), aad.clone(), rechunk(&sealed, &mut rng, max_piece)))
                .expect("opens");
            prop_assert!(opened == plain, "roundtrip of {} bytes", len);

            // Cut anywhere: fails.
            let cut = rng.gen_range(0..sealed.len());
            let cut_result = collect(open_stream(key.clone(), aad.clone(), rechunk(&sealed[..cut], &mut rng, max_piece)));
            prop_assert!(cut_result.is_err());
            // Any flipped bit: fails.
            let mut flipped = sealed.clone();
            let bit = rng.gen_range(0..flipped.len() * 8);
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(collect(open_stream(key, aad, rechunk(&flipped, &mut rng, max_piece))).is_err());
        }
    }
}
