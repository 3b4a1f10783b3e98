//! Document bytes: one store for every uploaded and signed PDF, content-addressed by SHA-256
//! (`sha256/<first 2 hex>/<hex>`), over `object_store` (a folder under the data directory, memory
//! for tests; S3-compatible stores later through [`DocumentStore::new`]). Nothing here loads a
//! document whole: uploads stream in parts, downloads stream out, and pdf-sign reads a stored PDF
//! through [`DocumentStore::source`].
//!
//! An upload is written as a multipart upload to `uploads/<random>` while it is hashed, then
//! renamed to its digest's key (or dropped when that key already exists: the same bytes are stored
//! once). Refused or failed uploads are aborted, so they leave nothing; only a process killed
//! mid-upload can leave an `uploads/` object, which [`DocumentStore::remove_uploads_before`]
//! clears. A document may be referenced by several rows: delete it only when none is left.
//!
//! A signed copy is most often its parent's bytes with an incremental update appended (a few
//! dozen KB after a document of any size): [`DocumentStore::create_version`] keeps only that tail,
//! as a *version* (`versions/<first 2 hex>/<hex>`, named by the SHA-256 of the whole document like
//! any other): a header naming the parent's digest and length, then the tail. Every reader
//! ([`DocumentStore::get`], [`DocumentStore::source`], [`DocumentStore::size`]) follows a version
//! to its parent, so a caller never knows which way a document is kept; a parent is never deleted
//! while a version names it (documents are not deleted at all yet). Before a version is kept, the
//! digest of its first bytes is checked against the parent's: the tail is kept only when what was
//! written really starts with the parent.
//!
//! `source()` reads positioned, as pdf-sign's synchronous [`Source`] wants: from the local
//! folder it opens the file itself and reads with `read_at` (no runtime, no copy, the kernel's
//! page cache does the caching); from any other store it asks for byte ranges, in 64 KiB blocks
//! of which the last 16 are kept, so pdf-sign's many small reads (xref entries, object headers)
//! cost one request per block, not one each. Those range reads wait on the runtime, so a
//! [`RangeSource`] must be read from a blocking thread (`tokio::task::spawn_blocking`, where
//! pdf-sign runs anyway), never from async code.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::FutureExt;
use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt, WriteMultipart};
use pdf_sign::{FileSource, Source};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::runtime::Handle;

/// Where uploads wait while they are hashed, before they move to their digest's key.
const UPLOADS: &str = "uploads";
/// Where versions are kept.
const VERSIONS: &str = "versions";
/// A version's header: this tag, the parent's digest, a space, its length as 20 digits, `\n`.
const VERSION_TAG: &str = "inkan-version-1 ";
const VERSION_HEADER: u64 = 16 + 64 + 1 + 20 + 1;
/// How much of an upload is read (and hashed) at a time.
const READ_CHUNK: usize = 64 << 10;
/// The part size for stores that take any (the local folder, memory).
const SMALL_PART: usize = 1 << 20;
/// The smallest part S3-compatible stores accept (all but the last).
const S3_PART: usize = 5 << 20;
/// Parts being written at once, besides the one being filled.
const PARTS_IN_FLIGHT: usize = 2;
/// A [`RangeSource`] fetches aligned blocks of this size and keeps the last few.
const BLOCK: u64 = 64 << 10;
const CACHED_BLOCKS: usize = 16;

/// What went wrong with stored documents.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The upload is larger than the caller's limit; nothing was stored.
    #[error("the document is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// No document is stored under this digest (a malformed digest included).
    #[error("no document is stored under this digest")]
    NotFound,
    /// Reading the upload failed (the client went away, the body was cut); nothing was stored.
    #[error("reading the upload failed: {0}")]
    Read(#[source] io::Error),
    /// A new version does not start with its parent's bytes (see
    /// [`DocumentStore::create_version`]); nothing was stored. Keep it whole instead.
    #[error("the new document does not start with its parent")]
    NotIncremental,
    /// The store itself failed (disk, network, permissions).
    #[error("document storage failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => Self::NotFound,
            e => Self::Backend(Box::new(e)),
        }
    }
}

impl From<io::Error> for StorageError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound => Self::NotFound,
            _ => Self::Backend(Box::new(e)),
        }
    }
}

/// A stored document: its digest (lowercase hex, the key to read it back) and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sha256: String,
    pub size: u64,
}

/// A stored document being read: its length (for `Content-Length`) and its bytes as they come.
pub struct Download {
    pub size: u64,
    pub bytes: BoxStream<'static, Result<Bytes, StorageError>>,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// The store of document bytes.
#[derive(Debug, Clone)]
pub struct DocumentStore {
    store: Arc<dyn ObjectStore>,
    /// The same store when it is the local folder: [`Self::source`] then reads the file itself.
    local: Option<Arc<LocalFileSystem>>,
    part_size: usize,
}

impl DocumentStore {
    /// Documents in `dir` (e.g. `<data_dir>/documents`), created if missing. Writes are synced
    /// to disk before they count as stored.
    pub fn local(dir: impl AsRef<std::path::Path>) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir.as_ref())?;
        let local = Arc::new(LocalFileSystem::new_with_prefix(dir.as_ref())?.with_fsync(true));
        Ok(Self {
            store: local.clone(),
            local: Some(local),
            part_size: SMALL_PART,
        })
    }

    /// Documents in memory, gone with the process: for tests.
    pub fn memory() -> Self {
        Self {
            store: Arc::new(InMemory::new()),
            local: None,
            part_size: SMALL_PART,
        }
    }

    /// Documents in any object store (S3-compatible ones included: uploads go in parts of the
    /// 5 MiB such stores require).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            local: None,
            part_size: S3_PART,
        }
    }

    /// Stores what `reader` yields, at most `max_bytes` of it, streamed: the upload is hashed and
    /// written a part at a time, so at most a few parts are in memory whatever its size. Bytes
    /// already stored are not stored again; either way the digest names them.
    pub async fn put(
        &self,
        reader: impl AsyncRead + Unpin,
        max_bytes: u64,
    ) -> Result<Stored, StorageError> {
        let (upload, stored) = self.stage(reader, max_bytes).await?;
        self.publish_or_drop(&upload, &key(&stored.sha256)?).await?;
        Ok(stored)
    }

    /// Writes what `reader` yields, at most `max_bytes` of it, to a new object in `uploads/`,
    /// hashing it; a refused or failed upload leaves nothing.
    async fn stage(
        &self,
        mut reader: impl AsyncRead + Unpin,
        max_bytes: u64,
    ) -> Result<(Path, Stored), StorageError> {
        let upload = Path::from(format!("{UPLOADS}/{}", random_name()?));
        let parts = self.store.put_multipart(&upload).await?;
        let mut parts = WriteMultipart::new_with_chunk_size(parts, self.part_size);
        let stored = match copy_hashing(&mut reader, &mut parts, max_bytes).await {
            Ok(stored) => stored,
            Err(e) => {
                if let Err(abort) = parts.abort().await {
                    tracing::warn!(error = %abort, %upload, "could not abort a refused upload");
                }
                return Err(e);
            }
        };
        parts.finish().await?;
        Ok((upload, stored))
    }

    /// [`Self::publish`], deleting the upload when that fails.
    async fn publish_or_drop(&self, upload: &Path, key: &Path) -> Result<(), StorageError> {
        if let Err(e) = self.publish(upload, key).await {
            if let Err(delete) = self.store.delete(upload).await {
                tracing::warn!(error = %delete, %upload, "could not delete a failed upload");
            }
            return Err(e);
        }
        Ok(())
    }

    /// Moves a finished upload to its key, or drops it when the key holds the same bytes already.
    /// Two identical uploads racing both rename onto the key: the bytes are the same, so
    /// whichever lands last changes nothing.
    async fn publish(&self, upload: &Path, key: &Path) -> Result<(), StorageError> {
        match self.store.head(key).await {
            Ok(_) => Ok(self.store.delete(upload).await?),
            Err(object_store::Error::NotFound { .. }) => Ok(self.store.rename(upload, key).await?),
            Err(e) => Err(e.into()),
        }
    }

    /// The document's bytes, streamed (the whole document is never in memory); a version's are
    /// its parent's, then its tail.
    pub async fn get(&self, sha256: &str) -> Result<Download, StorageError> {
        self.get_boxed(sha256.to_owned()).await
    }

    fn get_boxed(&self, sha256: String) -> BoxFuture<'_, Result<Download, StorageError>> {
        async move {
            match self.store.get(&key(&sha256)?).await {
                Ok(result) => {
                    return Ok(Download {
                        size: result.meta.size,
                        bytes: result.into_stream().map_err(StorageError::from).boxed(),
                    })
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let version = self.version(&sha256).await?;
            let parent = self.get_boxed(version.parent.clone()).await?;
            if parent.size != version.parent_len {
                return Err(version.broken("its parent's length differs"));
            }
            let tail = self
                .store
                .get_opts(
                    &version_key(&sha256)?,
                    GetOptions::default().with_range(Some(VERSION_HEADER..version.object_len)),
                )
                .await?;
            Ok(Download {
                size: version.len(),
                bytes: parent
                    .bytes
                    .chain(tail.into_stream().map_err(StorageError::from))
                    .boxed(),
            })
        }
        .boxed()
    }

    /// The header of the version `sha256`.
    async fn version(&self, sha256: &str) -> Result<Version, StorageError> {
        let result = self
            .store
            .get_opts(
                &version_key(sha256)?,
                GetOptions::default().with_range(Some(0..VERSION_HEADER)),
            )
            .await?;
        let object_len = result.meta.size;
        let header = result.bytes().await?;
        Version::parse(sha256, &header, object_len)
    }

    /// The document's length in bytes.
    pub async fn size(&self, sha256: &str) -> Result<u64, StorageError> {
        match self.store.head(&key(sha256)?).await {
            Ok(meta) => Ok(meta.size),
            Err(object_store::Error::NotFound { .. }) => Ok(self.version(sha256).await?.len()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn exists(&self, sha256: &str) -> Result<bool, StorageError> {
        match self.size(sha256).await {
            Ok(_) => Ok(true),
            Err(StorageError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the document (kept whole or as a version; never its parent); one already gone
    /// is no error, so a retried deletion succeeds.
    pub async fn delete(&self, sha256: &str) -> Result<(), StorageError> {
        for key in [key(sha256)?, version_key(sha256)?] {
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The document for pdf-sign to read positioned, without loading it. Read it from a blocking
    /// thread (`spawn_blocking`): a [`RangeSource`] waits on this runtime for its ranges.
    pub async fn source(&self, sha256: &str) -> Result<DocumentSource, StorageError> {
        self.source_boxed(sha256.to_owned()).await
    }

    fn source_boxed(&self, sha256: String) -> BoxFuture<'_, Result<DocumentSource, StorageError>> {
        async move {
            match self.object_source(key(&sha256)?, None).await {
                Err(StorageError::NotFound) => {}
                found => return found,
            }
            let version = self.version(&sha256).await?;
            let parent = self.source_boxed(version.parent.clone()).await?;
            if parent.len() != version.parent_len {
                return Err(version.broken("its parent's length differs"));
            }
            let object = self
                .object_source(version_key(&sha256)?, Some(version.object_len))
                .await?;
            if object.len() != version.object_len {
                return Err(version.broken("it changed while it was opened"));
            }
            Ok(DocumentSource::Version(Box::new(Chained {
                parent,
                parent_len: version.parent_len,
                object,
            })))
        }
        .boxed()
    }

    /// One stored object read positioned: the local file itself, or ranges from the store
    /// (`len`, when known, spares asking for it).
    async fn object_source(
        &self,
        key: Path,
        len: Option<u64>,
    ) -> Result<DocumentSource, StorageError> {
        if let Some(local) = &self.local {
            let file = local.path_to_filesystem(&key)?;
            let opened = tokio::task::spawn_blocking(move || FileSource::open(file))
                .await
                .map_err(|e| StorageError::Backend(Box::new(e)))??;
            return Ok(DocumentSource::File(opened));
        }
        let len = match len {
            Some(len) => len,
            None => self.store.head(&key).await?.size,
        };
        Ok(DocumentSource::Ranges(RangeSource {
            store: self.store.clone(),
            key,
            len,
            runtime: Handle::current(),
            cache: Mutex::new(VecDeque::new()),
            fetches: AtomicU64::new(0),
        }))
    }

    /// A new document to be written from a blocking thread (pdf-sign's output): hashed as it
    /// is written, then kept under its digest by [`Self::keep`]. In the local folder it is
    /// written straight into `uploads/` and renamed onto its key, so the bytes are written
    /// once and never read back; other stores get a temporary file uploaded afterwards.
    /// Dropped before [`NewDocument::finish`], it leaves nothing.
    pub fn create(&self) -> Result<NewDocument, StorageError> {
        let (file, path) = self.staging_file()?;
        NewDocument::new(file, path, None)
    }

    /// A new document that starts with the stored document `parent` (an incremental update of
    /// it: all of `parent`'s bytes, then more), written as [`Self::create`]'s but kept as a
    /// version: only the bytes after the parent's are written to the store. Its
    /// [`NewDocument::finish`] fails with [`StorageError::NotIncremental`] when what was written
    /// does not start with the parent's bytes, or adds nothing to them.
    pub fn create_version(&self, parent: &Stored) -> Result<NewDocument, StorageError> {
        let (mut file, path) = self.staging_file()?;
        let written = io::Write::write_all(&mut file, &Version::header(parent)?);
        if let Err(e) = written {
            if let Some(path) = &path {
                let _ = std::fs::remove_file(path);
            }
            return Err(e.into());
        }
        NewDocument::new(file, path, Some(parent.clone()))
    }

    /// A new file in the local folder's `uploads/`, or an anonymous temporary file.
    fn staging_file(&self) -> Result<(std::fs::File, Option<std::path::PathBuf>), StorageError> {
        Ok(match &self.local {
            Some(local) => {
                let path = local
                    .path_to_filesystem(&Path::from(format!("{UPLOADS}/{}", random_name()?)))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .read(true)
                    .create_new(true)
                    .open(&path)?;
                (file, Some(path))
            }
            None => (tempfile::tempfile()?, None),
        })
    }

    /// Keeps a finished new document under its digest: renamed onto its key in the local
    /// folder (or dropped when the key holds the same bytes already), uploaded to any other
    /// store. A version is kept under its version key.
    pub async fn keep(&self, mut written: Written) -> Result<Stored, StorageError> {
        let stored = written.stored.clone();
        let target = match written.parent {
            Some(_) => version_key(&stored.sha256)?,
            None => key(&stored.sha256)?,
        };
        let file = written
            .file
            .take()
            .ok_or_else(|| StorageError::Backend("a new document was kept twice".into()))?;
        match (&self.local, written.path.take()) {
            (Some(local), Some(upload)) => {
                let target = local.path_to_filesystem(&target)?;
                tokio::task::spawn_blocking(move || publish_file(&upload, &target))
                    .await
                    .map_err(|e| StorageError::Backend(Box::new(e)))??;
                Ok(stored)
            }
            _ => {
                let mut file = tokio::fs::File::from_std(file);
                tokio::io::AsyncSeekExt::rewind(&mut file).await?;
                let (upload, again) = self.stage(file, u64::MAX).await?;
                let same = match written.parent {
                    None => again == stored,
                    Some(_) => again.size == written.object_len,
                };
                if !same {
                    if let Err(e) = self.store.delete(&upload).await {
                        tracing::warn!(error = %e, %upload, "could not delete a failed upload");
                    }
                    return Err(StorageError::Backend(
                        "a new document changed while it was being stored".into(),
                    ));
                }
                self.publish_or_drop(&upload, &target).await?;
                Ok(stored)
            }
        }
    }

    /// Removes uploads last written before `before` (Unix seconds): those a killed process left.
    /// Returns how many it removed.
    pub async fn remove_uploads_before(&self, before: i64) -> Result<u64, StorageError> {
        let prefix = Path::from(UPLOADS);
        let stale: Vec<Path> = self
            .store
            .list(Some(&prefix))
            .try_filter(|meta| std::future::ready(meta.last_modified.timestamp() < before))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        let mut removed = 0;
        for upload in stale {
            match self.store.delete(&upload).await {
                Ok(()) => removed += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }
}

/// A new document being written (see [`DocumentStore::create`]): a [`io::Write`] that hashes
/// what goes through it. The hashing runs on a thread of its own, a chunk behind the writing,
/// so hashing a large signed copy costs no time beside pdf-sign's own hashing on a machine with
/// a second core. (Syncing what is written so far from that thread, to leave the closing sync
/// less to do, made a 50 MB signature twice as slow: the writer waited behind each sync.)
pub struct NewDocument {
    /// `None` once finished.
    file: Option<std::fs::File>,
    /// The file in the local folder's `uploads/`; `None` for an anonymous temporary file.
    path: Option<std::path::PathBuf>,
    /// Bytes not written to the file yet.
    buf: Vec<u8>,
    /// Chunks to hash; the hashing thread gives them back through `free` to be filled again.
    chunks: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    free: std::sync::mpsc::Receiver<Vec<u8>>,
    hasher: Option<std::thread::JoinHandle<Digests>>,
    /// Bytes written so far (the document's, a version's parent's included).
    size: u64,
    /// For a version: the parent, whose bytes are hashed but not written.
    parent: Option<Stored>,
    /// The bytes in the file (a version's header included).
    object_len: u64,
}

/// What the hashing thread gives back: the whole document's digest, and for a version the
/// digest of its first bytes, as long as the parent (`None` when fewer were written).
type Digests = (digest::Digest, Option<digest::Digest>);

/// A new document written to its end and synced to disk, waiting for [`DocumentStore::keep`].
#[derive(Debug)]
pub struct Written {
    /// `None` once kept.
    file: Option<std::fs::File>,
    /// The file in the local folder's `uploads/`; removed when dropped unkept.
    path: Option<std::path::PathBuf>,
    stored: Stored,
    /// For a version, its parent.
    parent: Option<Stored>,
    /// The bytes in the file.
    object_len: u64,
}

impl Written {
    /// The document's digest and length.
    pub fn stored(&self) -> &Stored {
        &self.stored
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(error = %e, path = %path.display(), "removing an unkept document");
            }
        }
    }
}

impl fmt::Debug for NewDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewDocument")
            .field("path", &self.path)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// The chunk a new document is written and hashed by.
const WRITE_CHUNK: usize = 1 << 20;
/// Chunks waiting for the hashing thread, at most.
const CHUNKS_QUEUED: usize = 4;

impl NewDocument {
    fn new(
        file: std::fs::File,
        path: Option<std::path::PathBuf>,
        parent: Option<Stored>,
    ) -> Result<Self, StorageError> {
        let (chunks, queued) = std::sync::mpsc::sync_channel::<Vec<u8>>(CHUNKS_QUEUED);
        let (give_back, free) = std::sync::mpsc::channel();
        let boundary = parent.as_ref().map(|p| p.size);
        let hasher = std::thread::Builder::new()
            .name("inkan-hash".into())
            .spawn(move || {
                let mut sha256 = digest::Context::new(&digest::SHA256);
                let mut hashed = 0u64;
                let mut prefix = None;
                for chunk in queued {
                    match boundary {
                        Some(at) if prefix.is_none() && hashed + chunk.len() as u64 >= at => {
                            let (before, after) = chunk.split_at((at - hashed) as usize);
                            sha256.update(before);
                            prefix = Some(sha256.clone().finish());
                            sha256.update(after);
                        }
                        _ => sha256.update(&chunk),
                    }
                    hashed += chunk.len() as u64;
                    // The writer may be gone (it failed): then the chunk is dropped.
                    let _ = give_back.send(chunk);
                }
                if boundary == Some(0) && prefix.is_none() {
                    prefix = Some(sha256.clone().finish());
                }
                (sha256.finish(), prefix)
            })?;
        let object_len = if parent.is_some() { VERSION_HEADER } else { 0 };
        Ok(Self {
            file: Some(file),
            path,
            buf: Vec::with_capacity(WRITE_CHUNK),
            chunks: Some(chunks),
            free,
            hasher: Some(hasher),
            size: 0,
            parent,
            object_len,
        })
    }

    /// Writes the buffered bytes to the file (a version's parent's bytes excepted) and hands
    /// them to the hashing thread.
    fn write_chunk(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("the new document is finished"))?;
        let skip = match &self.parent {
            Some(parent) => parent
                .size
                .saturating_sub(self.size)
                .min(self.buf.len() as u64),
            None => 0,
        } as usize;
        io::Write::write_all(file, &self.buf[skip..])?;
        self.object_len += (self.buf.len() - skip) as u64;
        self.size += self.buf.len() as u64;
        let next = match self.free.try_recv() {
            Ok(mut chunk) => {
                chunk.clear();
                chunk
            }
            Err(_) => Vec::with_capacity(WRITE_CHUNK),
        };
        let chunk = std::mem::replace(&mut self.buf, next);
        self.chunks
            .as_ref()
            .and_then(|c| c.send(chunk).ok())
            .ok_or_else(|| io::Error::other("the hashing thread stopped"))?;
        Ok(())
    }

    /// Flushes and syncs the bytes to disk: the document can then be kept. A version that does
    /// not start with its parent, or adds nothing to it, is [`StorageError::NotIncremental`].
    pub fn finish(mut self) -> Result<Written, StorageError> {
        self.write_chunk()?;
        drop(self.chunks.take());
        let (sha256, prefix) = self
            .hasher
            .take()
            .ok_or_else(|| StorageError::Backend("a new document was finished twice".into()))?
            .join()
            .map_err(|_| StorageError::Backend("the hashing thread panicked".into()))?;
        if let Some(parent) = &self.parent {
            let starts_with_parent =
                prefix.is_some_and(|p| hex::encode(p) == parent.sha256) && self.size > parent.size;
            if !starts_with_parent {
                return Err(StorageError::NotIncremental);
            }
        }
        let file = self
            .file
            .take()
            .ok_or_else(|| StorageError::Backend("a new document was finished twice".into()))?;
        file.sync_all()?;
        Ok(Written {
            file: Some(file),
            path: self.path.take(),
            stored: Stored {
                sha256: hex::encode(sha256),
                size: self.size,
            },
            parent: self.parent.take(),
            object_len: self.object_len,
        })
    }
}

impl io::Write for NewDocument {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = WRITE_CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == WRITE_CHUNK {
            self.write_chunk()?;
        }
        Ok(n)
    }

    /// Bytes are written a chunk at a time; [`NewDocument::finish`] writes the rest.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for NewDocument {
    fn drop(&mut self) {
        drop(self.chunks.take());
        if let Some(hasher) = self.hasher.take() {
            let _ = hasher.join();
        }
        // Unfinished (signing failed midway): the partial file goes.
        if let (Some(path), Some(_)) = (&self.path, &self.file) {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(error = %e, path = %path.display(), "removing an unfinished document");
            }
        }
    }
}

/// Moves the synced upload `upload` onto `target` (its digest's path) and syncs the folder, so
/// the name survives a crash; the same bytes already there, the upload is dropped.
fn publish_file(upload: &std::path::Path, target: &std::path::Path) -> Result<(), StorageError> {
    let dir = target
        .parent()
        .ok_or_else(|| StorageError::Backend("a document path without a folder".into()))?;
    if target.exists() {
        std::fs::remove_file(upload)?;
        return Ok(());
    }
    let created = !dir.exists();
    std::fs::create_dir_all(dir)?;
    std::fs::rename(upload, target)?;
    std::fs::File::open(dir)?.sync_all()?;
    if created {
        if let Some(parent) = dir.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
    }
    Ok(())
}

/// Reads `reader` into `parts`, hashing, until its end or past `max_bytes`.
async fn copy_hashing(
    reader: &mut (impl AsyncRead + Unpin),
    parts: &mut WriteMultipart,
    max_bytes: u64,
) -> Result<Stored, StorageError> {
    let mut sha256 = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0; READ_CHUNK];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf).await.map_err(StorageError::Read)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > max_bytes {
            return Err(StorageError::TooLarge { limit: max_bytes });
        }
        sha256.update(&buf[..n]);
        // Back pressure: a slow store slows the reader instead of filling memory with parts.
        parts.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        parts.write(&buf[..n]);
    }
    Ok(Stored {
        sha256: hex::encode(sha256.finish()),
        size,
    })
}

/// The key of a digest; anything but 64 lowercase hex digits names no document.
fn key(sha256: &str) -> Result<Path, StorageError> {
    let valid = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid {
        return Err(StorageError::NotFound);
    }
    Ok(Path::from(format!("sha256/{}/{sha256}", &sha256[..2])))
}

/// The key of the version whose whole bytes have the digest `sha256`.
fn version_key(sha256: &str) -> Result<Path, StorageError> {
    key(sha256)?;
    Ok(Path::from(format!("{VERSIONS}/{}/{sha256}", &sha256[..2])))
}

/// A version's header (see [`DocumentStore::create_version`]) and its object's length.
#[derive(Debug)]
struct Version {
    sha256: String,
    parent: String,
    parent_len: u64,
    object_len: u64,
}

impl Version {
    /// The header of a version of `parent`: [`VERSION_TAG`], the parent's digest, a space, its
    /// length as 20 digits, a line feed.
    fn header(parent: &Stored) -> Result<Vec<u8>, StorageError> {
        key(&parent.sha256)?;
        let header = format!("{VERSION_TAG}{} {:020}\n", parent.sha256, parent.size);
        debug_assert_eq!(header.len() as u64, VERSION_HEADER);
        Ok(header.into_bytes())
    }

    fn parse(sha256: &str, header: &[u8], object_len: u64) -> Result<Self, StorageError> {
        let broken = |why: &str| {
            StorageError::Backend(format!("the version {sha256} is broken: {why}").into())
        };
        if header.len() as u64 != VERSION_HEADER || !header.starts_with(VERSION_TAG.as_bytes()) {
            return Err(broken("no header"));
        }
        let text = std::str::from_utf8(&header[VERSION_TAG.len()..])
            .map_err(|_| broken("the header is not text"))?;
        let (parent, rest) = text.split_at(64);
        key(parent).map_err(|_| broken("the parent's digest"))?;
        let digits = rest
            .strip_prefix(' ')
            .and_then(|r| r.strip_suffix('\n'))
            .filter(|d| d.len() == 20 && d.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| broken("the parent's length"))?;
        let parent_len = digits.parse().map_err(|_| broken("the parent's length"))?;
        if object_len <= VERSION_HEADER {
            return Err(broken("no tail"));
        }
        Ok(Self {
            sha256: sha256.to_owned(),
            parent: parent.to_owned(),
            parent_len,
            object_len,
        })
    }

    /// The whole document's length.
    fn len(&self) -> u64 {
        self.parent_len + self.object_len - VERSION_HEADER
    }

    fn broken(&self, why: &str) -> StorageError {
        StorageError::Backend(format!("the version {} is broken: {why}", self.sha256).into())
    }
}

fn random_name() -> Result<String, StorageError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| StorageError::Backend("no system randomness".into()))?;
    Ok(hex::encode(bytes))
}

/// A stored document as pdf-sign reads it.
#[derive(Debug)]
pub enum DocumentSource {
    /// The local folder's file, read directly.
    File(FileSource),
    /// Any other store, read by ranges.
    Ranges(RangeSource),
    /// A version: its parent, then its tail.
    Version(Box<Chained>),
}

impl Source for DocumentSource {
    fn len(&self) -> u64 {
        match self {
            Self::File(s) => s.len(),
            Self::Ranges(s) => s.len(),
            Self::Version(s) => s.len(),
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::File(s) => s.read_at(offset, buf),
            Self::Ranges(s) => s.read_at(offset, buf),
            Self::Version(s) => s.read_at(offset, buf),
        }
    }
}

/// A version read positioned: its parent's bytes, then the tail after its object's header.
#[derive(Debug)]
pub struct Chained {
    parent: DocumentSource,
    parent_len: u64,
    /// The version's object, header included.
    object: DocumentSource,
}

impl Source for Chained {
    fn len(&self) -> u64 {
        self.parent_len + self.object.len() - VERSION_HEADER
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let len = Source::len(self);
        if offset >= len {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(len - offset) as usize;
        let mut done = 0;
        while done < want {
            let at = offset + done as u64;
            let n = if at < self.parent_len {
                let end = want.min(done + (self.parent_len - at) as usize);
                self.parent.read_at(at, &mut buf[done..end])?
            } else {
                let within = at - self.parent_len + VERSION_HEADER;
                self.object.read_at(within, &mut buf[done..want])?
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "a stored version is shorter than its header says",
                ));
            }
            done += n;
        }
        Ok(done)
    }
}

/// A stored document read by byte ranges: small reads through a cache of aligned blocks, reads
/// of a block or more in one request of their own. Blocks on the runtime: read it only from a
/// blocking thread.
pub struct RangeSource {
    store: Arc<dyn ObjectStore>,
    key: Path,
    len: u64,
    runtime: Handle,
    /// The most recently used blocks first: (block number, its bytes).
    cache: Mutex<VecDeque<(u64, Bytes)>>,
    fetches: AtomicU64,
}

impl fmt::Debug for RangeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RangeSource")
            .field("key", &self.key)
            .field("len", &self.len)
            .field("fetches", &self.fetches())
            .finish_non_exhaustive()
    }
}

impl RangeSource {
    /// How many requests the store has answered for this source.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn fetch(&self, range: Range<u64>) -> io::Result<Bytes> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let want = range.end - range.start;
        let bytes = self
            .runtime
            .block_on(self.store.get_range(&self.key, range))
            .map_err(io::Error::other)?;
        if bytes.len() as u64 != want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the stored document is shorter than when it was opened",
            ));
        }
        Ok(bytes)
    }

    fn block(&self, number: u64) -> io::Result<Bytes> {
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let hit = cache.iter().position(|(n, _)| *n == number);
            if let Some(hit) = hit.and_then(|i| cache.remove(i)) {
                let bytes = hit.1.clone();
                cache.push_front(hit);
                return Ok(bytes);
            }
        }
        let start = number * BLOCK;
        let bytes = self.fetch(start..(start + BLOCK).min(self.len))?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.push_front((number, bytes.clone()));
        cache.truncate(CACHED_BLOCKS);
        Ok(bytes)
    }
}

impl Source for RangeSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.len - offset) as usize;
        if want as u64 >= BLOCK {
            let bytes = self.fetch(offset..offset + want as u64)?;
            buf[..want].copy_from_slice(&bytes);
            return Ok(want);
        }
        let mut done = 0;
        while done < want {
            let at = offset + done as u64;
            let block = self.block(at / BLOCK)?;
            let start = (at % BLOCK) as usize;
            let n = (block.len() - start).min(want - done);
            buf[done..done + n].copy_from_slice(&block[start..start + n]);
            done += n;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::PathBuf;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    const MIB: u64 = 1 << 20;
    /// The contract limit.
    const LIMIT: u64 = 50 * MIB;

    /// The large-upload tests run one at a time, so one's memory does not show in another's.
    static LARGE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// Both stores, the local one in a folder that lives as long as the returned guard.
    fn stores() -> Vec<(&'static str, DocumentStore, Option<tempfile::TempDir>)> {
        let dir = tempfile::tempdir().unwrap();
        let local = DocumentStore::local(dir.path().join("documents")).unwrap();
        vec![
            ("memory", DocumentStore::memory(), None),
            ("local", local, Some(dir)),
        ]
    }

    /// Every object the store lists.
    async fn objects(store: &DocumentStore) -> Vec<String> {
        let mut all: Vec<String> = store
            .store
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .unwrap();
        all.sort();
        all
    }

    /// Every file under a local store's folder, staging files included (the store's listing
    /// hides those).
    fn files(dir: &std::path::Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    todo.push(path);
                } else {
                    found.push(path);
                }
            }
        }
        found
    }

    async fn assert_empty(name: &str, store: &DocumentStore, dir: &Option<tempfile::TempDir>) {
        assert_eq!(objects(store).await, Vec::<String>::new(), "{name}");
        if let Some(dir) = dir {
            assert_eq!(files(dir.path()), Vec::<PathBuf>::new(), "{name}");
        }
    }

    /// A new document written in pieces of every size (the hashing thread a chunk behind) is
    /// kept under the SHA-256 of its bytes, readable back whole, and leaves nothing in
    /// `uploads/`; the same bytes written again are stored once.
    #[tokio::test]
    async fn a_new_document_is_hashed_as_written_and_kept_under_its_digest() {
        for (name, store, dir) in stores() {
            let bytes: Vec<u8> = (0..(3 * WRITE_CHUNK + 12_345))
                .map(|i| (i * 7 % 251) as u8)
                .collect();
            for _ in 0..2 {
                let data = bytes.clone();
                let written = {
                    let store = store.clone();
                    tokio::task::spawn_blocking(move || {
                        let mut doc = store.create().unwrap();
                        let mut at: usize = 0;
                        for piece in [1, 7, 4096, WRITE_CHUNK - 1, WRITE_CHUNK + 3, usize::MAX] {
                            let end = at.saturating_add(piece).min(data.len());
                            io::Write::write_all(&mut doc, &data[at..end]).unwrap();
                            at = end;
                        }
                        doc.finish().unwrap()
                    })
                    .await
                    .unwrap()
                };
                assert_eq!(written.stored().size, bytes.len() as u64, "{name}");
                let stored = store.keep(written).await.unwrap();
                assert_eq!(stored.sha256, sha256_hex(&bytes), "{name}");
                assert_eq!(
                    read_all(store.get(&stored.sha256).await.unwrap()).await,
                    bytes
                );
            }
            assert_eq!(
                objects(&store).await,
                vec![key(&sha256_hex(&bytes)).unwrap().to_string()],
                "{name}: one object, nothing left in uploads/"
            );
            if let Some(dir) = &dir {
                assert_eq!(files(dir.path()).len(), 1, "{name}");
            }
        }
    }

    /// A new document dropped before it is finished (signing failed midway), or finished and
    /// never kept (the job failed before storing it), leaves nothing behind.
    #[tokio::test]
    async fn a_new_document_given_up_leaves_nothing() {
        for (name, store, dir) in stores() {
            let s = store.clone();
            tokio::task::spawn_blocking(move || {
                let mut doc = s.create().unwrap();
                io::Write::write_all(&mut doc, &vec![1u8; WRITE_CHUNK + 5]).unwrap();
                drop(doc);
                let mut doc = s.create().unwrap();
                io::Write::write_all(&mut doc, b"%PDF-1.7 finished, never kept").unwrap();
                drop(doc.finish().unwrap());
            })
            .await
            .unwrap();
            assert_empty(name, &store, &dir).await;
        }
    }

    async fn read_all(download: Download) -> Vec<u8> {
        download
            .bytes
            .try_fold(Vec::new(), |mut all, chunk| {
                all.extend_from_slice(&chunk);
                std::future::ready(Ok(all))
            })
            .await
            .unwrap()
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        hex::encode(digest::digest(&digest::SHA256, bytes))
    }

    /// `len` bytes made up as they are read, 64 KiB at most per read: the test never holds them.
    struct Generated {
        len: u64,
        at: u64,
        pattern: Vec<u8>,
        /// A folder whose files' total size is noted every 4 MiB read: (bytes read, on disk).
        watch: Option<(PathBuf, Vec<(u64, u64)>)>,
    }

    impl Generated {
        fn new(len: u64) -> Self {
            // A period that is no power of two, so that blocks and parts differ.
            let mut state = 0x2545_f491_u32;
            let pattern = (0..65_521)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (state >> 16) as u8
                })
                .collect();
            Self {
                len,
                at: 0,
                pattern,
                watch: None,
            }
        }

        fn watching(len: u64, dir: PathBuf) -> Self {
            Self {
                watch: Some((dir, Vec::new())),
                ..Self::new(len)
            }
        }

        /// The next piece, at most `max` bytes; empty at the end.
        fn next_piece(&mut self, max: usize) -> &[u8] {
            let period = self.pattern.len() as u64;
            let start = (self.at % period) as usize;
            let n = (self.len - self.at)
                .min(max as u64)
                .min(READ_CHUNK as u64)
                .min(period - start as u64) as usize;
            self.at += n as u64;
            &self.pattern[start..start + n]
        }

        /// The SHA-256 of all it yields, computed piece by piece.
        fn digest(len: u64) -> String {
            let mut gen = Self::new(len);
            let mut sha256 = digest::Context::new(&digest::SHA256);
            loop {
                let piece = gen.next_piece(READ_CHUNK);
                if piece.is_empty() {
                    break;
                }
                sha256.update(piece);
            }
            hex::encode(sha256.finish())
        }
    }

    impl AsyncRead for Generated {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            if let Some((dir, seen)) = &mut this.watch {
                if this.at % (4 * MIB) < READ_CHUNK as u64 && dir.exists() {
                    let on_disk = files(dir).iter().map(|f| f.metadata().unwrap().len()).sum();
                    seen.push((this.at, on_disk));
                }
            }
            let piece = this.next_piece(buf.remaining());
            buf.put_slice(piece);
            Poll::Ready(Ok(()))
        }
    }

    /// A reader that yields some bytes, then fails as a dropped connection does.
    struct Broken(bool);

    impl AsyncRead for Broken {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if self.0 {
                return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
            }
            self.0 = true;
            buf.put_slice(&[7; 1000]);
            Poll::Ready(Ok(()))
        }
    }

    /// A one-page PDF with a classic cross-reference table; `padding` bytes of comment after
    /// the header make it span several blocks.
    fn tiny_pdf(padding: usize) -> Vec<u8> {
        let content = "BT /F1 24 Tf 72 700 Td (stored) Tj ET";
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_string(),
            format!(
                "<< /Length {} >>\nstream\n{content}\nendstream",
                content.len()
            ),
        ];
        let mut pdf = b"%PDF-1.7\n".to_vec();
        for line in 0..padding / 64 {
            pdf.extend_from_slice(format!("%{line:062}\n").as_bytes());
        }
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = pdf.len();
        pdf.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for o in offsets {
            pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        pdf.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        pdf
    }

    #[tokio::test]
    async fn a_document_reads_back_as_stored() {
        for (name, store, _dir) in stores() {
            let bytes = b"%PDF-1.7 some contract".repeat(1000);
            let stored = store.put(&bytes[..], LIMIT).await.unwrap();
            assert_eq!(stored.sha256, sha256_hex(&bytes), "{name}");
            assert_eq!(stored.size, bytes.len() as u64, "{name}");

            let download = store.get(&stored.sha256).await.unwrap();
            assert_eq!(download.size, bytes.len() as u64, "{name}");
            assert_eq!(read_all(download).await, bytes, "{name}");
            assert_eq!(
                store.size(&stored.sha256).await.unwrap(),
                bytes.len() as u64
            );
            assert!(store.exists(&stored.sha256).await.unwrap(), "{name}");

            store.delete(&stored.sha256).await.unwrap();
            assert!(!store.exists(&stored.sha256).await.unwrap(), "{name}");
            assert!(matches!(
                store.get(&stored.sha256).await,
                Err(StorageError::NotFound)
            ));
            // Deleting again is no error.
            store.delete(&stored.sha256).await.unwrap();
        }
    }

    #[tokio::test]
    async fn documents_are_stored_under_their_digest_and_once() {
        for (name, store, dir) in stores() {
            let first = store.put(&b"the same contract"[..], LIMIT).await.unwrap();
            let second = store.put(&b"the same contract"[..], LIMIT).await.unwrap();
            assert_eq!(first, second, "{name}");
            let key = format!("sha256/{}/{}", &first.sha256[..2], first.sha256);
            assert_eq!(objects(&store).await, vec![key.clone()], "{name}");
            if let Some(dir) = &dir {
                assert_eq!(
                    files(dir.path()),
                    vec![dir.path().join("documents").join(&key)]
                );
            }

            let other = store.put(&b"another contract"[..], LIMIT).await.unwrap();
            assert_ne!(other.sha256, first.sha256, "{name}");
            assert_eq!(objects(&store).await.len(), 2, "{name}");
        }
    }

    #[tokio::test]
    async fn an_empty_document_is_stored() {
        for (name, store, _dir) in stores() {
            let stored = store.put(&b""[..], LIMIT).await.unwrap();
            assert_eq!(stored.size, 0, "{name}");
            assert_eq!(stored.sha256, sha256_hex(b""), "{name}");
            assert!(read_all(store.get(&stored.sha256).await.unwrap())
                .await
                .is_empty());
        }
    }

    #[tokio::test]
    async fn a_document_over_the_limit_is_refused_and_leaves_nothing() {
        for (name, store, dir) in stores() {
            let refused = store.put(&[1u8; 11][..], 10).await;
            assert!(
                matches!(refused, Err(StorageError::TooLarge { limit: 10 })),
                "{name}: {refused:?}"
            );
            assert_empty(name, &store, &dir).await;

            // Exactly the limit is allowed.
            let stored = store.put(&[1u8; 10][..], 10).await.unwrap();
            assert_eq!(stored.size, 10, "{name}");
        }
    }

    #[tokio::test]
    async fn a_broken_upload_is_refused_and_leaves_nothing() {
        for (name, store, dir) in stores() {
            let refused = store.put(Broken(false), LIMIT).await;
            assert!(
                matches!(&refused, Err(StorageError::Read(e)) if e.kind() == io::ErrorKind::ConnectionReset),
                "{name}: {refused:?}"
            );
            assert_empty(name, &store, &dir).await;
        }
    }

    #[tokio::test]
    async fn uploads_a_killed_process_left_are_removed() {
        for (name, store, dir) in stores() {
            let kept = store.put(&b"a contract"[..], LIMIT).await.unwrap();
            let left = Path::from(format!("{UPLOADS}/{}", random_name().unwrap()));
            store
                .store
                .put(&left, b"half".to_vec().into())
                .await
                .unwrap();
            let now = chrono::Utc::now().timestamp();

            assert_eq!(
                store.remove_uploads_before(now - 60).await.unwrap(),
                0,
                "{name}"
            );
            assert_eq!(objects(&store).await.len(), 2, "{name}");
            assert_eq!(
                store.remove_uploads_before(now + 60).await.unwrap(),
                1,
                "{name}"
            );
            let key = format!("sha256/{}/{}", &kept.sha256[..2], kept.sha256);
            assert_eq!(objects(&store).await, vec![key], "{name}");
            drop(dir);
        }
    }

    #[tokio::test]
    async fn malformed_digests_name_no_document() {
        let store = DocumentStore::memory();
        let stored = store.put(&b"x"[..], LIMIT).await.unwrap();
        for bad in [
            "",
            "../../etc/passwd",
            &stored.sha256[..63],
            &stored.sha256.to_uppercase(),
            &format!("{}/", &stored.sha256[..63]),
        ] {
            assert!(
                matches!(store.get(bad).await, Err(StorageError::NotFound)),
                "{bad}"
            );
            assert!(!store.exists(bad).await.unwrap(), "{bad}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_60_mb_upload_is_refused_and_a_50_mb_one_is_streamed_in() {
        let _one_at_a_time = LARGE.lock().await;
        for (name, store, dir) in stores() {
            let refused = store.put(Generated::new(60 * MIB), LIMIT).await;
            assert!(
                matches!(refused, Err(StorageError::TooLarge { limit: LIMIT })),
                "{name}: {refused:?}"
            );
            assert_empty(name, &store, &dir).await;

            let mut upload = match &dir {
                Some(dir) => Generated::watching(LIMIT, dir.path().join("documents/uploads")),
                None => Generated::new(LIMIT),
            };
            let stored = store.put(&mut upload, LIMIT).await.unwrap();
            assert_eq!(stored.size, LIMIT, "{name}");
            assert_eq!(stored.sha256, Generated::digest(LIMIT), "{name}");

            // Read back as a stream, hashing each chunk: the whole document is never held.
            let download = store.get(&stored.sha256).await.unwrap();
            assert_eq!(download.size, LIMIT);
            let mut sha256 = digest::Context::new(&digest::SHA256);
            let mut biggest = 0;
            let mut chunks = download.bytes;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.unwrap();
                biggest = biggest.max(chunk.len());
                sha256.update(&chunk);
            }
            assert_eq!(hex::encode(sha256.finish()), stored.sha256, "{name}");

            if let Some((_, seen)) = upload.watch {
                // The upload reaches the disk as it is read: all but the part being filled and
                // those being written (a few MiB) is on disk whenever the reader is asked for
                // more, so that is all the memory an upload takes, whatever its size.
                assert!(seen.len() >= 10, "{seen:?}");
                let in_memory = (PARTS_IN_FLIGHT as u64 + 1) * SMALL_PART as u64;
                for (read, on_disk) in seen {
                    assert!(
                        on_disk + in_memory >= read,
                        "{read} bytes read, {on_disk} on disk"
                    );
                }
                assert!(biggest < MIB as usize, "a chunk of {biggest} bytes");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pdf_sign_opens_a_stored_pdf_through_its_source() {
        for (name, store, _dir) in stores() {
            for padding in [0, 300 << 10] {
                let pdf = tiny_pdf(padding);
                let stored = store.put(&pdf[..], LIMIT).await.unwrap();
                let source = store.source(&stored.sha256).await.unwrap();
                assert_eq!(
                    matches!(source, DocumentSource::File(_)),
                    name == "local",
                    "{name}"
                );
                let source = tokio::task::spawn_blocking(move || {
                    let doc = pdf_sign::Document::open(&source).unwrap();
                    assert!(!doc.repaired, "{name}: {:?}", doc.damage);
                    assert_eq!(doc.catalog().unwrap().name("Type"), Some(&b"Catalog"[..]));
                    assert_eq!(doc.page_count().unwrap(), 1);
                    let page = doc.get_dict(doc.page(0).unwrap()).unwrap();
                    assert_eq!(page.name("Type"), Some(&b"Page"[..]));
                    drop(doc);
                    source
                })
                .await
                .unwrap();
                if let DocumentSource::Ranges(ranges) = &source {
                    // The header, the tail and the objects: a block each, not a request per read.
                    let blocks = (pdf.len() as u64).div_ceil(BLOCK);
                    assert!(
                        ranges.fetches() <= blocks.min(3),
                        "{} requests for {} bytes",
                        ranges.fetches(),
                        pdf.len()
                    );
                }
            }
        }
        let missing = DocumentStore::memory().source(&sha256_hex(b"none")).await;
        assert!(matches!(missing, Err(StorageError::NotFound)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn range_reads_match_the_stored_bytes_across_blocks() {
        let store = DocumentStore::memory();
        let len = 5 * BLOCK + 123;
        let stored = store.put(Generated::new(len), LIMIT).await.unwrap();
        let mut bytes = Vec::new();
        let mut gen = Generated::new(len);
        loop {
            let piece = gen.next_piece(READ_CHUNK);
            if piece.is_empty() {
                break;
            }
            bytes.extend_from_slice(piece);
        }
        let DocumentSource::Ranges(source) = store.source(&stored.sha256).await.unwrap() else {
            panic!("the memory store reads by ranges");
        };
        tokio::task::spawn_blocking(move || {
            assert_eq!(source.len(), len);
            for (offset, n) in [
                (0, 10),
                (BLOCK - 3, 10),
                (2 * BLOCK, BLOCK as usize),
                (BLOCK + 1, 3 * BLOCK as usize),
                (len - 5, 100),
                (len, 10),
                (len + 10, 10),
                (17, 0),
            ] {
                let end = (offset + n as u64).min(len).max(offset.min(len));
                let expected = &bytes[offset.min(len) as usize..end as usize];
                assert_eq!(
                    source.read_vec(offset, n).unwrap(),
                    expected,
                    "{offset}+{n}"
                );
            }
            // Small reads within cached blocks cost no further requests.
            let fetches = source.fetches();
            source.read_vec(4, 20).unwrap();
            source.read_vec(BLOCK + 7, 20).unwrap();
            assert_eq!(source.fetches(), fetches);
        })
        .await
        .unwrap();
    }

    /// Writes `bytes` as a version of `parent` from a blocking thread, in pieces of every size.
    async fn write_version(
        store: &DocumentStore,
        parent: &Stored,
        bytes: &[u8],
    ) -> Result<Written, StorageError> {
        let (store, parent, data) = (store.clone(), parent.clone(), bytes.to_vec());
        tokio::task::spawn_blocking(move || {
            let mut doc = store.create_version(&parent)?;
            let mut at: usize = 0;
            for piece in [3, 4093, WRITE_CHUNK + 1, 17, usize::MAX] {
                let end = at.saturating_add(piece).min(data.len());
                io::Write::write_all(&mut doc, &data[at..end])?;
                at = end;
            }
            doc.finish()
        })
        .await
        .unwrap()
    }

    /// A signed copy kept as a version stores only what follows its parent's bytes (behind a
    /// header naming the parent), yet reads back whole through `get`, `size` and `source`,
    /// also two versions deep and with the parent's end in the middle of a write chunk.
    #[tokio::test]
    async fn a_version_keeps_only_its_tail_and_reads_back_whole() {
        for (name, store, dir) in stores() {
            let original: Vec<u8> = (0..(WRITE_CHUNK + 777)).map(|i| (i % 253) as u8).collect();
            let first = store.put(&original[..], u64::MAX).await.unwrap();
            let mut second_bytes = original.clone();
            second_bytes.extend((0..5000).map(|i| (i % 7) as u8));
            let second = write_version(&store, &first, &second_bytes).await.unwrap();
            let second = store.keep(second).await.unwrap();
            let mut third_bytes = second_bytes.clone();
            third_bytes.extend_from_slice(b"%%EOF\n another update");
            let third = write_version(&store, &second, &third_bytes).await.unwrap();
            let third = store.keep(third).await.unwrap();
            for (stored, bytes) in [(&second, &second_bytes), (&third, &third_bytes)] {
                assert_eq!(stored.sha256, sha256_hex(bytes), "{name}");
                assert_eq!(stored.size, bytes.len() as u64, "{name}");
                assert_eq!(
                    store.size(&stored.sha256).await.unwrap(),
                    stored.size,
                    "{name}"
                );
                assert!(store.exists(&stored.sha256).await.unwrap(), "{name}");
                let download = store.get(&stored.sha256).await.unwrap();
                assert_eq!(download.size, stored.size, "{name}");
                assert_eq!(&read_all(download).await, bytes, "{name}");
                let source = store.source(&stored.sha256).await.unwrap();
                let bytes = bytes.clone();
                let boundary = original.len() as u64;
                tokio::task::spawn_blocking(move || {
                    assert_eq!(source.len(), bytes.len() as u64);
                    assert_eq!(source.read_vec(0, bytes.len() + 10).unwrap(), bytes);
                    for (offset, n) in [(boundary - 3, 10), (boundary, 1), (5, 70_000)] {
                        let end = (offset as usize + n).min(bytes.len());
                        assert_eq!(
                            source.read_vec(offset, n).unwrap(),
                            &bytes[offset as usize..end]
                        );
                    }
                })
                .await
                .unwrap();
            }
            let versions: Vec<String> = objects(&store)
                .await
                .into_iter()
                .filter(|o| o.starts_with("versions/"))
                .collect();
            assert_eq!(
                versions,
                {
                    let mut v = vec![
                        version_key(&second.sha256).unwrap().to_string(),
                        version_key(&third.sha256).unwrap().to_string(),
                    ];
                    v.sort();
                    v
                },
                "{name}"
            );
            if let Some(dir) = &dir {
                let tail = std::fs::metadata(
                    dir.path()
                        .join("documents")
                        .join(version_key(&third.sha256).unwrap().to_string()),
                )
                .unwrap()
                .len();
                assert_eq!(
                    tail,
                    VERSION_HEADER + (third_bytes.len() - second_bytes.len()) as u64,
                    "{name}: the version's file holds its header and tail only"
                );
            }
            store.delete(&third.sha256).await.unwrap();
            assert!(!store.exists(&third.sha256).await.unwrap(), "{name}");
            assert!(store.exists(&second.sha256).await.unwrap(), "{name}");
        }
    }

    /// Bytes that do not start with the parent's, or add nothing to them, are no version of
    /// it: refused, and nothing is left behind.
    #[tokio::test]
    async fn a_version_that_does_not_start_with_its_parent_is_refused() {
        for (name, store, dir) in stores() {
            let original = vec![9u8; 3000];
            let parent = store.put(&original[..], u64::MAX).await.unwrap();
            let mut changed = original.clone();
            changed[1500] = 8;
            changed.extend_from_slice(b"tail");
            let shorter = original[..2000].to_vec();
            for bytes in [changed, shorter, original.clone()] {
                assert!(
                    matches!(
                        write_version(&store, &parent, &bytes).await,
                        Err(StorageError::NotIncremental)
                    ),
                    "{name}"
                );
            }
            store.delete(&parent.sha256).await.unwrap();
            assert_empty(name, &store, &dir).await;
        }
    }

    /// A version's header names its parent's digest and length; a damaged one is an error,
    /// never a wrong document.
    #[test]
    fn a_version_header_reads_back_and_a_damaged_one_is_refused() {
        let parent = Stored {
            sha256: "ab".repeat(32),
            size: 1234,
        };
        let header = Version::header(&parent).unwrap();
        assert_eq!(header.len() as u64, VERSION_HEADER);
        let version = Version::parse("x", &header, VERSION_HEADER + 10).unwrap();
        assert_eq!(
            (version.parent.as_str(), version.parent_len, version.len()),
            (parent.sha256.as_str(), 1234, 1244)
        );
        assert!(
            Version::parse("x", &header, VERSION_HEADER).is_err(),
            "no tail"
        );
        let mut damaged = header.clone();
        damaged[VERSION_HEADER as usize - 5] = b'x';
        assert!(Version::parse("x", &damaged, VERSION_HEADER + 1).is_err());
        assert!(Version::parse("x", &header[..50], VERSION_HEADER + 1).is_err());
    }

    #[test]
    fn storing_can_run_in_a_handler() {
        fn send<T: Send>(_: &T) {}
        let store = DocumentStore::memory();
        let put = store.put(&b""[..], 1);
        send(&put);
        send(&store.get(""));
        send(&store.source(""));
    }
}
