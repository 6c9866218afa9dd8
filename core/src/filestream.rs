//! The file stream format, version 1 (see `docs/format.md`): STREAM-BE32 over AES-256-GCM in
//! 64 KiB chunks, so files are sealed and opened piece by piece and never sit whole in memory.
//! Both sides are push-based state machines: feed bytes in, take bytes out.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::aead::{KeyInit, OsRng, Payload};
use serde::{Deserialize, Serialize};

use crate::crypto::SecretKey;
use crate::error::{Error, Result};
use crate::model::SecretId;

/// Magic bytes opening every blob.
pub const MAGIC: &[u8; 4] = b"SCR1";
/// Header length: magic, version, algorithm, chunk size, nonce prefix.
pub const HEADER_LEN: usize = 17;
/// Plaintext bytes per chunk.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Largest metadata record.
pub const MAX_META: usize = 4096;

/// What the first chunk says about the file. Encrypted: the server never sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// File name, without directories.
    pub name: String,
    /// Media type.
    #[serde(rename = "type")]
    pub media_type: String,
    /// File size in bytes, when the sealer knew it up front (a server sealing an upload as it
    /// streams in does not); a decryptor checks it when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// Blob size for a file of `size` bytes with this metadata.
pub fn sealed_len(meta: &FileMeta, size: u64) -> u64 {
    let p = 4 + meta_json(meta).len() as u64 + size;
    let chunks = p.div_ceil(CHUNK_SIZE as u64);
    HEADER_LEN as u64 + p + chunks * TAG_LEN as u64
}

/// Length of the sealed payload `P` (metadata record plus file bytes) in a blob of `blob_len`
/// bytes, if that length is possible.
pub fn payload_len(blob_len: u64) -> Option<u64> {
    let body = blob_len.checked_sub(HEADER_LEN as u64)?;
    let sealed = (CHUNK_SIZE + TAG_LEN) as u64;
    let chunks = body.div_ceil(sealed);
    let p = body.checked_sub(chunks * TAG_LEN as u64)?;
    (p > 0).then_some(p)
}

/// Length of the file in a blob, given its metadata (as the decryptor reads it).
pub fn file_len(blob_len: u64, meta: &FileMeta) -> Option<u64> {
    payload_len(blob_len)?.checked_sub(4 + meta_json(meta).len() as u64)
}

/// Largest blob the server accepts for files up to `max_file` bytes.
pub fn max_sealed_len(max_file: u64) -> u64 {
    let p = 4 + MAX_META as u64 + max_file;
    HEADER_LEN as u64 + p + p.div_ceil(CHUNK_SIZE as u64) * TAG_LEN as u64
}

fn meta_json(meta: &FileMeta) -> Vec<u8> {
    serde_json::to_vec(meta).unwrap_or_default()
}

fn corrupted(what: &str) -> Error {
    Error::Rejected {
        code: "decryption_failed",
        message: format!("decryption failed: {what}"),
    }
}

fn aad(header: &[u8; HEADER_LEN], id: &SecretId) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(id.to_string().as_bytes());
    aad
}

/// Seals a file as a stream.
pub struct Encryptor {
    enc: Option<EncryptorBE32<Aes256Gcm>>,
    aad: Vec<u8>,
    header: Option<[u8; HEADER_LEN]>,
    pending: Vec<u8>,
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Encryptor")
    }
}

impl Encryptor {
    /// Starts a blob for secret `id` whose first chunk carries `meta`.
    pub fn new(key: &SecretKey, id: &SecretId, meta: &FileMeta) -> Result<Self> {
        let json = meta_json(meta);
        if json.len() > MAX_META {
            return Err(Error::invalid("file", "file name and type are too long"));
        }
        let mut prefix = [0u8; 7];
        OsRng.fill_bytes(&mut prefix);
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(MAGIC);
        header[4] = 1;
        header[5] = 1;
        header[6..10].copy_from_slice(&(CHUNK_SIZE as u32).to_be_bytes());
        header[10..].copy_from_slice(&prefix);
        let cipher = Aes256Gcm::new(key.as_bytes().into());
        let mut pending = Vec::with_capacity(CHUNK_SIZE * 2);
        pending.extend_from_slice(&(json.len() as u32).to_be_bytes());
        pending.extend_from_slice(&json);
        Ok(Self {
            enc: Some(EncryptorBE32::from_aead(cipher, (&prefix).into())),
            aad: aad(&header, id),
            header: Some(header),
            pending,
        })
    }

    fn seal(&mut self, out: &mut Vec<u8>, last: bool) -> Result<()> {
        if let Some(h) = self.header.take() {
            out.extend_from_slice(&h);
        }
        let take = self.pending.len().min(CHUNK_SIZE);
        let payload = Payload {
            msg: &self.pending[..take],
            aad: &self.aad,
        };
        let ct = if last {
            self.enc
                .take()
                .ok_or_else(|| Error::Internal("stream already finished".into()))?
                .encrypt_last(payload)
        } else {
            self.enc
                .as_mut()
                .ok_or_else(|| Error::Internal("stream already finished".into()))?
                .encrypt_next(payload)
        }
        .map_err(|_| Error::Internal("encryption failed".into()))?;
        out.extend_from_slice(&ct);
        self.pending.drain(..take);
        Ok(())
    }

    /// Feeds file bytes; sealed chunks are appended to `out`. A full chunk is held back until
    /// more data (or [`Encryptor::finish`]) shows whether it is the last.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.pending.extend_from_slice(data);
        while self.pending.len() > CHUNK_SIZE {
            self.seal(out, false)?;
        }
        Ok(())
    }

    /// Seals the last chunk.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        self.seal(out, true)
    }
}

/// Opens a sealed stream.
pub struct Decryptor {
    key: SecretKey,
    id: SecretId,
    dec: Option<DecryptorBE32<Aes256Gcm>>,
    aad: Vec<u8>,
    buf: Vec<u8>,
    chunk: usize,
    meta: Option<FileMeta>,
    meta_buf: Vec<u8>,
    produced: u64,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// A decryptor for secret `id`'s blob.
    pub fn new(key: &SecretKey, id: &SecretId) -> Self {
        Self {
            key: key.clone(),
            id: *id,
            dec: None,
            aad: Vec::new(),
            buf: Vec::new(),
            chunk: CHUNK_SIZE,
            meta: None,
            meta_buf: Vec::new(),
            produced: 0,
        }
    }

    /// The file's metadata, once the first chunk is open.
    pub fn meta(&self) -> Option<&FileMeta> {
        self.meta.as_ref()
    }

    fn start(&mut self) -> Result<()> {
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&self.buf[..HEADER_LEN]);
        if &header[..4] != MAGIC || header[4] != 1 || header[5] != 1 {
            return Err(corrupted("not a Seecret file stream v1"));
        }
        let chunk = u32::from_be_bytes([header[6], header[7], header[8], header[9]]) as usize;
        if !(1024..=1 << 24).contains(&chunk) {
            return Err(corrupted("bad chunk size"));
        }
        let mut prefix = [0u8; 7];
        prefix.copy_from_slice(&header[10..]);
        self.chunk = chunk;
        self.aad = aad(&header, &self.id);
        self.dec = Some(DecryptorBE32::from_aead(
            Aes256Gcm::new(self.key.as_bytes().into()),
            (&prefix).into(),
        ));
        self.buf.drain(..HEADER_LEN);
        Ok(())
    }

    fn take_plain(&mut self, pt: Vec<u8>, out: &mut Vec<u8>) -> Result<()> {
        if self.meta.is_some() {
            self.produced += pt.len() as u64;
            out.extend_from_slice(&pt);
            return Ok(());
        }
        self.meta_buf.extend_from_slice(&pt);
        if self.meta_buf.len() < 4 {
            return Ok(());
        }
        let len = u32::from_be_bytes([
            self.meta_buf[0],
            self.meta_buf[1],
            self.meta_buf[2],
            self.meta_buf[3],
        ]) as usize;
        if len > MAX_META {
            return Err(corrupted("metadata too long"));
        }
        if self.meta_buf.len() < 4 + len {
            return Ok(());
        }
        let meta: FileMeta = serde_json::from_slice(&self.meta_buf[4..4 + len])
            .map_err(|_| corrupted("metadata is not valid"))?;
        let rest = self.meta_buf.split_off(4 + len);
        self.meta_buf.clear();
        self.meta = Some(meta);
        self.produced += rest.len() as u64;
        out.extend_from_slice(&rest);
        Ok(())
    }

    /// Feeds sealed bytes; file bytes are appended to `out` as chunks open.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.buf.extend_from_slice(data);
        if self.dec.is_none() {
            if self.buf.len() < HEADER_LEN {
                return Ok(());
            }
            self.start()?;
        }
        let sealed = self.chunk + TAG_LEN;
        // Strictly more than one chunk buffered: the one at the front is not the last.
        while self.buf.len() > sealed {
            let pt = self
                .dec
                .as_mut()
                .ok_or_else(|| corrupted("stream already finished"))?
                .decrypt_next(Payload {
                    msg: &self.buf[..sealed],
                    aad: &self.aad,
                })
                .map_err(|_| {
                    corrupted("a chunk failed authentication (tampered, reordered or wrong key)")
                })?;
            self.buf.drain(..sealed);
            self.take_plain(pt, out)?;
        }
        Ok(())
    }

    /// Opens the last chunk and checks the file is complete.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<FileMeta> {
        let dec = self
            .dec
            .take()
            .ok_or_else(|| corrupted("the stream ended before its header"))?;
        if self.buf.len() < TAG_LEN + 1 {
            return Err(corrupted("the stream is truncated"));
        }
        let buf = std::mem::take(&mut self.buf);
        let pt = dec
            .decrypt_last(Payload {
                msg: &buf[..],
                aad: &self.aad,
            })
            .map_err(|_| {
                corrupted("the last chunk failed authentication (truncated or tampered)")
            })?;
        self.take_plain(pt, out)?;
        let meta = self
            .meta
            .take()
            .ok_or_else(|| corrupted("the stream has no metadata"))?;
        if meta.size.is_some_and(|s| s != self.produced) {
            return Err(corrupted("the file size does not match its metadata"));
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(data: &[u8], key: &SecretKey, id: &SecretId, piece: usize) -> Vec<u8> {
        let meta = FileMeta {
            name: "a.bin".into(),
            media_type: "application/octet-stream".into(),
            size: Some(data.len() as u64),
        };
        let mut e = Encryptor::new(key, id, &meta).unwrap();
        let mut out = Vec::new();
        for p in data.chunks(piece.max(1)) {
            e.update(p, &mut out).unwrap();
        }
        e.finish(&mut out).unwrap();
        assert_eq!(out.len() as u64, sealed_len(&meta, data.len() as u64));
        assert_eq!(file_len(out.len() as u64, &meta), Some(data.len() as u64));
        out
    }

    fn open(blob: &[u8], key: &SecretKey, id: &SecretId, piece: usize) -> Result<Vec<u8>> {
        let mut d = Decryptor::new(key, id);
        let mut out = Vec::new();
        for p in blob.chunks(piece.max(1)) {
            d.update(p, &mut out)?;
        }
        d.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn round_trips_at_chunk_boundaries_and_refuses_damage() {
        let key = SecretKey::generate();
        let id = SecretId::new();
        let meta_len = 4 + meta_json(&FileMeta {
            name: "a.bin".into(),
            media_type: "application/octet-stream".into(),
            size: Some(0),
        })
        .len();
        for size in [
            0,
            1,
            CHUNK_SIZE - meta_len,
            CHUNK_SIZE - meta_len + 1,
            CHUNK_SIZE,
            3 * CHUNK_SIZE + 7,
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            for piece in [1000, 65536, 200_000] {
                let blob = seal(&data, &key, &id, piece);
                assert_eq!(open(&blob, &key, &id, 7777).unwrap(), data, "size {size}");
            }
            let blob = seal(&data, &key, &id, 4096);
            let sealed = CHUNK_SIZE + TAG_LEN;
            assert!(
                open(&blob, &SecretKey::generate(), &id, 999).is_err(),
                "wrong key"
            );
            assert!(
                open(&blob, &key, &SecretId::new(), 999).is_err(),
                "wrong id"
            );
            let mut flipped = blob.clone();
            flipped[HEADER_LEN + 3] ^= 1;
            assert!(open(&flipped, &key, &id, 999).is_err(), "tampered");
            let mut hdr = blob.clone();
            hdr[12] ^= 1;
            assert!(open(&hdr, &key, &id, 999).is_err(), "tampered header");
            assert!(
                open(&blob[..blob.len() - 1], &key, &id, 999).is_err(),
                "cut"
            );
            if blob.len() > HEADER_LEN + sealed {
                let last = (blob.len() - HEADER_LEN) % sealed;
                let last = if last == 0 { sealed } else { last };
                assert!(
                    open(&blob[..blob.len() - last], &key, &id, 999).is_err(),
                    "last chunk removed"
                );
            }
            let mut longer = blob.clone();
            longer.extend_from_slice(&[0u8; 20]);
            assert!(open(&longer, &key, &id, 999).is_err(), "trailing bytes");
        }
    }
}
