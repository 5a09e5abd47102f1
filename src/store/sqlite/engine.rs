//! How the concerns written once for both backends ([`Engine`]) reach SQLite: reads on the read
//! pool, writes on the single write connection, checked against the database file; no
//! cross-process wake-ups and no fence (one writer at a time). The concerns' own hooks are in
//! their files (`jobs`, `notifications`, `dead_letters`).

use std::future::Future;
use std::sync::Arc;

use sqlx::sqlite::SqliteConnection;
use tokio::sync::Notify;

use super::{SqliteStore, begin_write, db_error};
use crate::store::StoreError;
use crate::store::portable::Engine;

impl Engine for SqliteStore {
    type Db = sqlx::Sqlite;

    fn reads(&self) -> &sqlx::SqlitePool {
        &self.read
    }

    fn writes(&self) -> &sqlx::SqlitePool {
        &self.write
    }

    fn classify(error: sqlx::Error) -> StoreError {
        db_error(error)
    }

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, StoreError>> + Send {
        begin_write(&self.write)
    }

    fn guarded<T: Send>(
        &self,
        write: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> impl Future<Output = Result<T, StoreError>> + Send {
        self.checked(write)
    }

    fn wakeups(&self) -> &Arc<Notify> {
        &self.wakeups
    }

    async fn announce(_conn: &mut SqliteConnection) -> Result<(), StoreError> {
        Ok(())
    }

    async fn fence_deletion(_conn: &mut SqliteConnection) -> Result<(), StoreError> {
        Ok(())
    }
}
