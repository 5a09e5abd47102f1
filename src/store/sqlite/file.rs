//! The database file under a running process: noticing that it was deleted or replaced, and
//! refusing to acknowledge writes into a file nobody will read again.
//!
//! SQLite keeps using the file descriptors it opened. After the database file is unlinked, or
//! another file is renamed over it, commits still succeed — into an inode no later process will
//! open, so a notification answered 200 then is gone after a restart. The store therefore
//! remembers the identity (device and inode) of the file it opened and checks the path around
//! every write ([`DatabaseFile::check`]):
//! - before a write, so a store known to be detached fails at once without touching SQLite;
//! - after the write (committed or failed): the path must still name the same file and, in WAL
//!   mode after a commit, its `-wal` file must exist. Otherwise the write is reported as failed
//!   ([`StoreError::Detached`]), so nothing committed to a gone file is acknowledged.
//!
//! Invariants:
//! - Detection is sticky: once detached, every write is refused until the process restarts (a
//!   file that reappears at the path is another database, and the connections still hold the old
//!   one). It is logged once, as an error naming the path.
//! - What the process still sees of the old database is copied next to the path
//!   (`VACUUM INTO <path>.rescued`, or `.rescued-N` when taken), so work acknowledged before the
//!   file went away can be restored. The caller that detected it waits for the copy; the copy runs
//!   in its own task, so a caller that gives up (a timed-out readiness check) does not cut it short.
//! - A check costs one or two `stat` calls on the database's directory, negligible next to the
//!   fsync of a commit.

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sqlx::sqlite::SqlitePool;

use crate::store::StoreError;

/// When a check runs, which decides what it can expect of the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Moment {
    /// Before a write, after a failed one, or for a readiness ping: the database file must be the
    /// one opened.
    Before,
    /// Right after a commit: also, in WAL mode, the `-wal` file the commit went to must exist.
    Committed,
}

/// Device and inode: what tells two files apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    device: u64,
    inode: u64,
}

impl Identity {
    fn of(metadata: &std::fs::Metadata) -> Identity {
        Identity {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

/// The database file a store opened, and whether it is still there.
#[derive(Debug)]
pub(super) struct DatabaseFile {
    /// The canonical path of the database file.
    path: PathBuf,
    /// The `-wal` file next to it.
    wal_path: PathBuf,
    identity: Identity,
    /// Whether the database is in WAL mode (then commits go to the `-wal` file).
    wal: bool,
    /// Set once, when the file is found gone: why (the message of every later refusal).
    detached: OnceLock<String>,
    /// The write pool, whose connection still holds the old file (for the rescue copy).
    write: SqlitePool,
}

impl DatabaseFile {
    /// Remembers the file at `path` (as the store just opened it).
    pub(super) fn open(path: &Path, wal: bool, write: SqlitePool) -> Result<Self, StoreError> {
        let setup = |error: std::io::Error| {
            StoreError::Setup(format!(
                "reading the metadata of the database file {}: {error}",
                path.display()
            ))
        };
        let path = std::fs::canonicalize(path).map_err(setup)?;
        let identity = Identity::of(&std::fs::metadata(&path).map_err(setup)?);
        let mut wal_path = path.clone().into_os_string();
        wal_path.push("-wal");
        Ok(DatabaseFile {
            path,
            wal_path: PathBuf::from(wal_path),
            identity,
            wal,
            detached: OnceLock::new(),
            write,
        })
    }

    /// Fails with [`StoreError::Detached`] when the file is gone or replaced (see the module
    /// docs); an unexpected error reading its metadata is [`StoreError::Unavailable`].
    pub(super) async fn check(&self, moment: Moment) -> Result<(), StoreError> {
        if let Some(reason) = self.detached.get() {
            return Err(StoreError::Detached(reason.clone()));
        }
        match self.problem(moment)? {
            None => Ok(()),
            Some(problem) => Err(self.detach(problem).await),
        }
    }

    /// What is wrong with the files, if anything.
    fn problem(&self, moment: Moment) -> Result<Option<String>, StoreError> {
        let path = self.path.display();
        match std::fs::metadata(&self.path) {
            Ok(metadata) if Identity::of(&metadata) != self.identity => {
                return Ok(Some(format!("{path} was replaced by another file")));
            }
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::NotFound => {
                return Ok(Some(format!("{path} was deleted")));
            }
            Err(error) => return Err(StoreError::Unavailable(sqlx::Error::Io(error))),
        }
        if moment == Moment::Committed && self.wal {
            match std::fs::metadata(&self.wal_path) {
                Ok(_) => {}
                Err(error) if error.kind() == ErrorKind::NotFound => {
                    let wal = self.wal_path.display();
                    return Ok(Some(format!(
                        "{wal} (the write-ahead log of {path}) was deleted"
                    )));
                }
                Err(error) => return Err(StoreError::Unavailable(sqlx::Error::Io(error))),
            }
        }
        Ok(None)
    }

    /// Marks the store detached (the first time: logs it and saves a copy); the refusal.
    async fn detach(&self, problem: String) -> StoreError {
        let reason = format!(
            "{problem} while calsync had it open; writes are refused until calsync restarts"
        );
        if self.detached.set(reason.clone()).is_ok() {
            tracing::error!(
                parent: None,
                path = %self.path.display(),
                "The SQLite database {problem} while calsync had it open: refusing every write \
                 (notifications are answered 503, /readyz fails) until calsync is restarted."
            );
            let copy = tokio::spawn(rescue(self.write.clone(), self.path.clone()));
            if let Err(error) = copy.await {
                tracing::error!(error = %error, "The copy of the detached database stopped abnormally.");
            }
        }
        StoreError::Detached(reason)
    }
}

/// Copies what the write connection still sees of the old database next to `path`.
async fn rescue(write: SqlitePool, path: PathBuf) {
    let Some(target) = rescue_path(&path) else {
        tracing::error!(
            parent: None,
            path = %path.display(),
            "Could not save a copy of the detached database: no free name for it."
        );
        return;
    };
    let result = sqlx::query("VACUUM INTO ?1")
        .bind(target.to_string_lossy().into_owned())
        .execute(&write)
        .await;
    match result {
        Ok(_) => tracing::error!(
            parent: None,
            path = %path.display(),
            copy = %target.display(),
            "Saved what calsync still held of the detached database to {}. To keep the work \
             it holds, stop calsync, move that file to {} (removing any -wal and -shm files \
             there) and start calsync again.",
            target.display(),
            path.display()
        ),
        Err(error) => tracing::error!(
            parent: None,
            path = %path.display(),
            copy = %target.display(),
            error = %error,
            "Could not save a copy of the detached database: work acknowledged before it was \
             deleted or replaced is lost unless the file is restored from a backup."
        ),
    }
}

/// The first of `<path>.rescued`, `<path>.rescued-2`, … that does not exist.
fn rescue_path(path: &Path) -> Option<PathBuf> {
    (1..1000)
        .map(|n| {
            let mut name = path.as_os_str().to_owned();
            name.push(if n == 1 {
                ".rescued".to_string()
            } else {
                format!(".rescued-{n}")
            });
            PathBuf::from(name)
        })
        .find(|candidate| !candidate.exists())
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use crate::store::sqlite::SqliteStore;
    use crate::store::{Coordination, JobQueue, Lifecycle, StoreError};

    struct Opened {
        store: SqliteStore,
        path: std::path::PathBuf,
        _dir: tempfile::TempDir,
    }

    async fn opened() -> Opened {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calsync.db");
        let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        Opened {
            store,
            path,
            _dir: dir,
        }
    }

    fn sibling(path: &std::path::Path, suffix: &str) -> std::path::PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        name.into()
    }

    async fn put(store: &SqliteStore, name: &str) -> Result<(), StoreError> {
        store.put_cursor(name, "v", Timestamp::UNIX_EPOCH).await
    }

    fn assert_detached(result: Result<(), StoreError>, path: &std::path::Path) {
        match result {
            Err(StoreError::Detached(message)) => {
                let path = std::fs::canonicalize(path.parent().unwrap()).unwrap();
                assert!(message.contains(&*path.to_string_lossy()), "{message}");
            }
            other => panic!("expected a detached store, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_deleted_database_refuses_writes_and_is_rescued() {
        let Opened { store, path, _dir } = opened().await;
        put(&store, "kept").await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            std::fs::remove_file(sibling(&path, suffix)).unwrap();
        }

        assert_detached(put(&store, "refused").await, &path);
        assert_detached(store.ping().await, &path);
        assert_detached(put(&store, "refused again").await, &path);
        let enqueued = store.enqueue(&[], Timestamp::UNIX_EPOCH).await;
        assert!(matches!(enqueued, Err(StoreError::Detached(_))));
        assert!(!path.exists(), "no empty database took its place");

        // What the process held was saved next to the path before the first refusal returned.
        let rescued = sibling(&path, ".rescued");
        let copy = SqliteStore::open(&format!("sqlite://{}", rescued.display()))
            .await
            .unwrap();
        assert_eq!(copy.get_cursor("kept").await.unwrap().as_deref(), Some("v"));
        assert_eq!(copy.get_cursor("refused").await.unwrap(), None);
        copy.close().await;
        store.close().await;
    }

    #[tokio::test]
    async fn a_replaced_database_is_not_written_to() {
        let Opened { store, path, _dir } = opened().await;
        put(&store, "kept").await.unwrap();
        let other = sibling(&path, ".other");
        std::fs::write(&other, b"").unwrap();
        std::fs::rename(&other, &path).unwrap();

        assert_detached(put(&store, "refused").await, &path);
        assert_detached(store.ping().await, &path);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            0,
            "the new file is untouched"
        );
        store.close().await;
    }

    #[tokio::test]
    async fn a_commit_into_a_deleted_log_is_not_reported_as_committed() {
        let Opened { store, path, _dir } = opened().await;
        put(&store, "kept").await.unwrap();
        // Only the write-ahead log goes: the write commits into it, and is reported failed.
        std::fs::remove_file(sibling(&path, "-wal")).unwrap();
        assert_detached(put(&store, "unacknowledged").await, &path);
        assert_detached(put(&store, "refused").await, &path);

        let rescued = sibling(&path, ".rescued");
        let copy = SqliteStore::open(&format!("sqlite://{}", rescued.display()))
            .await
            .unwrap();
        for (name, kept) in [("kept", true), ("unacknowledged", true), ("refused", false)] {
            let value = copy.get_cursor(name).await.unwrap();
            assert_eq!(value.is_some(), kept, "{name}");
        }
        copy.close().await;
        store.close().await;
    }

    #[test]
    fn rescue_copies_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calsync.db");
        assert_eq!(super::rescue_path(&path), Some(sibling(&path, ".rescued")));
        std::fs::write(sibling(&path, ".rescued"), b"").unwrap();
        assert_eq!(
            super::rescue_path(&path),
            Some(sibling(&path, ".rescued-2"))
        );
    }
}
