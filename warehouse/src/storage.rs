//! Where the warehouse's files live, behind one object store: a local directory (the
//! default), an S3 bucket (`s3://bucket/prefix`) or memory (tests).
//!
//! Everything the warehouse keeps goes through [`Storage`]: the Delta tables (their
//! commits are conditional writes, so two writers can never both write one version,
//! on S3 as on a disk) and the small records beside them (copy origins, problems),
//! each written whole by one put, so a reader sees the old record or the new.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use deltalake::DeltaTable;
use deltalake::logstore::{LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use crate::store::delta;
use crate::{TableId, WarehouseError};

/// The warehouse's root in an object store.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The root as a URL ending in `/`; tables are found under it.
    url: Url,
    /// The root inside `store`.
    prefix: ObjectPath,
    /// The root directory when the store is the local file system.
    local: Option<PathBuf>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.describe())
    }
}

impl Storage {
    /// The storage at `location`: a local directory (created when missing), a `file://`
    /// URL, or `s3://bucket/prefix` with the credentials, region and endpoint of the
    /// standard `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`).
    pub fn open(location: &Path) -> Result<Self, WarehouseError> {
        Self::open_with(location, &[])
    }

    /// [`Storage::open`], with S3 settings (`aws_endpoint_url`, `aws_access_key_id`…,
    /// the names of the `AWS_*` variables in lowercase) taking precedence over the
    /// environment's. They are refused for a local directory, which has none.
    pub fn open_with(location: &Path, s3_settings: &[(&str, &str)]) -> Result<Self, WarehouseError> {
        let local = match url_scheme(location) {
            None => location.to_owned(),
            Some(("file", rest)) => PathBuf::from(rest),
            Some(("s3" | "s3a", _)) => return Self::s3(&location.to_string_lossy(), s3_settings),
            Some((scheme, _)) => {
                return Err(WarehouseError::UnsupportedLocation {
                    location: location.display().to_string(),
                    scheme: scheme.to_owned(),
                });
            }
        };
        if let Some((name, _)) = s3_settings.first() {
            return Err(WarehouseError::Setting {
                location: location.display().to_string(),
                setting: (*name).to_owned(),
                reason: "S3 settings apply to s3:// locations only".into(),
            });
        }
        std::fs::create_dir_all(&local).map_err(|source| WarehouseError::Io {
            what: "cannot create",
            path: local.clone(),
            source,
        })?;
        // Canonical: a URL path cannot hold `..`.
        let root = std::fs::canonicalize(&local).map_err(|source| WarehouseError::Io {
            what: "cannot resolve",
            path: local.clone(),
            source,
        })?;
        let url = Url::from_directory_path(&root).map_err(|()| WarehouseError::UnsupportedLocation {
            location: root.display().to_string(),
            scheme: "file".into(),
        })?;
        let prefix = ObjectPath::from_url_path(url.path()).map_err(|source| WarehouseError::Storage {
            what: "cannot address",
            location: root.display().to_string(),
            source: source.into(),
        })?;
        Ok(Self { store: Arc::new(object_store::local::LocalFileSystem::new()), url, prefix, local: Some(root) })
    }

    /// A warehouse kept in this process's memory, empty; clones share it.
    pub fn in_memory() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A host of its own, so that two warehouses in one query session stay apart.
        // A fixed scheme and a host of letters, digits and `-`: always a valid URL.
        let url = Url::parse(&format!("memory://warehouse-{number}/")).unwrap_or_else(|_| unreachable!());
        Self { store: Arc::new(object_store::memory::InMemory::new()), url, prefix: ObjectPath::default(), local: None }
    }

    fn s3(location: &str, settings: &[(&str, &str)]) -> Result<Self, WarehouseError> {
        // Errors name the location without what may be secret in it (user information,
        // a query), whether or not it parses.
        let shown = redacted(location);
        if shown != location && location.split_once("://").is_some_and(|(_, rest)| authority(rest).contains('@')) {
            return Err(WarehouseError::Setting {
                location: shown,
                setting: "credentials".into(),
                reason: "give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not in the URL".into(),
            });
        }
        let failed = |source: object_store::Error| WarehouseError::Storage {
            what: "cannot open",
            location: shown.clone(),
            source,
        };
        let mut url = Url::parse(&shown).map_err(|error| WarehouseError::Storage {
            what: "cannot parse",
            location: shown.clone(),
            source: object_store::Error::Generic { store: "S3", source: Box::new(error) },
        })?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(WarehouseError::MissingBucket { location: shown });
        }
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_url(url.as_str());
        for (name, value) in settings {
            let key: object_store::aws::AmazonS3ConfigKey =
                name.to_ascii_lowercase().parse().map_err(|_| WarehouseError::Setting {
                    location: shown.clone(),
                    setting: (*name).to_owned(),
                    reason: "not an S3 setting (expected e.g. aws_endpoint_url, aws_region, aws_access_key_id)".into(),
                })?;
            builder = builder.with_config(key, *value);
        }
        let store = builder.build().map_err(failed)?;
        let prefix = ObjectPath::from_url_path(url.path()).map_err(|source| failed(source.into()))?;
        register_log_store("s3");
        register_log_store("s3a");
        Ok(Self { store: Arc::new(store), url, prefix, local: None })
    }

    /// The root for people: the directory, or the URL.
    pub fn describe(&self) -> String {
        match &self.local {
            Some(root) => root.display().to_string(),
            None => self.url.as_str().trim_end_matches('/').to_owned(),
        }
    }

    /// The local directory the warehouse lives in, if it is on the local file system.
    pub fn local_root(&self) -> Option<&Path> {
        self.local.as_deref()
    }

    /// The URL of the directory `relative` (`/`-separated) under the root.
    pub fn url(&self, relative: &str) -> Url {
        let relative = relative.trim_matches('/');
        if relative.is_empty() {
            return self.url.clone();
        }
        self.url.join(&format!("{relative}/")).unwrap_or_else(|_| self.url.clone())
    }

    /// The directory `relative` stands for on a local disk.
    fn local_directory(&self, relative: &str) -> Option<PathBuf> {
        let root = self.local.as_ref()?;
        Some(relative.split('/').filter(|part| !part.is_empty()).fold(root.clone(), |path, part| path.join(part)))
    }

    fn path(&self, relative: &str) -> ObjectPath {
        relative.split('/').filter(|part| !part.is_empty()).fold(self.prefix.clone(), |path, part| path.join(part))
    }

    fn failed(&self, what: &'static str, relative: &str) -> impl FnOnce(object_store::Error) -> WarehouseError {
        let location = format!("{}/{}", self.describe(), relative.trim_matches('/'));
        move |source| WarehouseError::Storage { what, location, source }
    }

    /// The Delta table in directory `relative` (of warehouse table `table`); a table
    /// without a commit yet has no version.
    pub(crate) async fn open_table(&self, table: &TableId, relative: &str) -> Result<DeltaTable, WarehouseError> {
        if let Some(directory) = self.local_directory(relative) {
            // Delta's kernel wants a local table's directory to exist, even before its
            // first commit; object stores have no directories.
            std::fs::create_dir_all(&directory).map_err(|source| WarehouseError::Io {
                what: "cannot create",
                path: directory,
                source,
            })?;
        }
        let url = self.url(relative);
        let mut delta_table = deltalake::DeltaTableBuilder::from_url(url.clone())
            .map_err(|source| delta(table, source))?
            .with_storage_backend(Arc::clone(&self.store), url)
            .build()
            .map_err(|source| delta(table, source))?;
        match delta_table.load().await {
            Ok(()) | Err(deltalake::DeltaTableError::NotATable(_)) => Ok(delta_table),
            Err(source) => Err(delta(table, source)),
        }
    }

    /// Whether the Delta table in `relative` has at least one commit or checkpoint. A
    /// process killed while creating a table can leave its log empty or holding only a
    /// temporary file; such a table was never created and is created again on the next
    /// write.
    pub(crate) async fn has_commit(&self, relative: &str) -> Result<bool, WarehouseError> {
        let log = format!("{}/_delta_log", relative.trim_matches('/'));
        let prefix = self.path(&log);
        // Stops at the first commit found: on S3, whose listings are sorted, numbered
        // commits come before `_`-prefixed files, so one page decides.
        let mut listing = self.store.list(Some(&prefix));
        while let Some(entry) = listing.next().await {
            let meta = match entry {
                Ok(meta) => meta,
                Err(object_store::Error::NotFound { .. }) => return Ok(false),
                Err(error) => return Err(self.failed("cannot list", &log)(error)),
            };
            let Some(name) = meta.location.filename() else { continue };
            let (version, rest) = name.split_at(name.find('.').unwrap_or(name.len()));
            if version.len() == 20
                && version.bytes().all(|byte| byte.is_ascii_digit())
                && (rest == ".json" || (rest.starts_with(".checkpoint") && rest.ends_with(".parquet")))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The object at `relative`, or `None` when there is none.
    pub(crate) async fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, WarehouseError> {
        match self.store.get(&self.path(relative)).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(self.failed("cannot read", relative))?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(self.failed("cannot read", relative)(error)),
        }
    }

    /// Writes the object at `relative` whole: readers see the previous content or this.
    pub(crate) async fn write(&self, relative: &str, bytes: Vec<u8>) -> Result<(), WarehouseError> {
        self.store.put(&self.path(relative), bytes.into()).await.map_err(self.failed("cannot write", relative))?;
        Ok(())
    }

    /// Removes the object at `relative`, if there is one.
    pub(crate) async fn remove(&self, relative: &str) -> Result<(), WarehouseError> {
        match self.store.delete(&self.path(relative)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(self.failed("cannot remove", relative)(error)),
        }
    }

    /// Removes everything under the directory `relative`.
    pub(crate) async fn remove_all(&self, relative: &str) -> Result<(), WarehouseError> {
        let prefix = self.path(relative);
        let locations = self.store.list(Some(&prefix)).map_ok(|meta| meta.location).boxed();
        let removed: Vec<_> = self.store.delete_stream(locations).collect().await;
        for result in removed {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(self.failed("cannot remove", relative)(error)),
            }
        }
        if let Some(directory) = self.local_directory(relative) {
            // Object stores have no directories; a disk keeps empty ones behind.
            match std::fs::remove_dir_all(&directory) {
                Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                    return Err(WarehouseError::Io { what: "cannot remove", path: directory, source });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The names of the directories directly under `relative`, sorted.
    pub(crate) async fn directories(&self, relative: &str) -> Result<Vec<String>, WarehouseError> {
        let listed = self.list(relative).await?;
        let mut names: Vec<String> =
            listed.common_prefixes.iter().filter_map(|path| path.filename().map(str::to_owned)).collect();
        names.sort();
        Ok(names)
    }

    /// The names of the objects directly under `relative`, sorted.
    pub(crate) async fn files(&self, relative: &str) -> Result<Vec<String>, WarehouseError> {
        let listed = self.list(relative).await?;
        let mut names: Vec<String> =
            listed.objects.iter().filter_map(|meta| meta.location.filename().map(str::to_owned)).collect();
        names.sort();
        Ok(names)
    }

    async fn list(&self, relative: &str) -> Result<object_store::ListResult, WarehouseError> {
        match self.store.list_with_delimiter(Some(&self.path(relative))).await {
            Ok(listed) => Ok(listed),
            Err(object_store::Error::NotFound { .. }) => {
                Ok(object_store::ListResult { common_prefixes: Vec::new(), objects: Vec::new() })
            }
            Err(error) => Err(self.failed("cannot list", relative)(error)),
        }
    }
}

/// `location` without user information, query or fragment: what errors may show.
fn redacted(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else { return location.to_owned() };
    let authority = authority(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let path = &rest[authority.len()..];
    let path = path.split(['?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}{path}")
}

/// The authority of a URL's text after `scheme://`: up to the first `/`, `?` or `#`
/// after the last `@` (a secret may hold `/`, so user information ends at the last `@`
/// before the path).
fn authority(rest: &str) -> &str {
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let head = &rest[..end];
    let start = head.rfind('@').map_or(0, |at| at + 1);
    let host_end = head[start..].find('/').map_or(head.len(), |slash| start + slash);
    &rest[..host_end]
}

/// The scheme of a location written as a URL (`s3://bucket/prefix`), and the rest.
fn url_scheme(location: &Path) -> Option<(&str, &str)> {
    let text = location.to_str()?;
    let (scheme, rest) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let is_scheme = chars.next().is_some_and(|first| first.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    is_scheme.then_some((scheme, rest))
}

/// Delta commits on `scheme` go through the default log store: each version is written
/// with a conditional put (`If-None-Match: *` on S3), which fails when another writer
/// wrote that version first. No lock table is needed.
fn register_log_store(scheme: &'static str) {
    static S3: Once = Once::new();
    static S3A: Once = Once::new();
    let once = if scheme == "s3" { &S3 } else { &S3A };
    once.call_once(|| {
        if let Ok(url) = Url::parse(&format!("{scheme}://")) {
            deltalake::logstore::logstore_factories().insert(url, Arc::new(ConditionalPutLogStore));
        }
    });
}

struct ConditionalPutLogStore;

impl LogStoreFactory for ConditionalPutLogStore {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> deltalake::DeltaResult<Arc<dyn LogStore>> {
        Ok(deltalake::logstore::default_logstore(prefixed_store, root_store, location, options))
    }
}
