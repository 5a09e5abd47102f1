//! How the concerns written once for both backends ([`Engine`]) reach PostgreSQL: one pool for
//! reads and writes, no guard beyond the transaction, `NOTIFY` wake-ups across replicas and the
//! grant-deletion fence. The concerns' own hooks are in their files (`jobs`, `notifications`,
//! `dead_letters`).

use std::future::Future;
use std::sync::Arc;

use sqlx::postgres::PgConnection;
use tokio::sync::Notify;

use super::enqueue::{self, Fence};
use super::{PostgresStore, begin, db_error};
use crate::store::StoreError;
use crate::store::portable::Engine;

impl Engine for PostgresStore {
    type Db = sqlx::Postgres;

    fn reads(&self) -> &sqlx::PgPool {
        &self.pool
    }

    fn writes(&self) -> &sqlx::PgPool {
        &self.pool
    }

    fn classify(error: sqlx::Error) -> StoreError {
        db_error(error)
    }

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, StoreError>> + Send {
        begin(&self.pool)
    }

    fn guarded<T: Send>(
        &self,
        write: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> impl Future<Output = Result<T, StoreError>> + Send {
        write
    }

    fn wakeups(&self) -> &Arc<Notify> {
        &self.wakeups
    }

    fn announce(conn: &mut PgConnection) -> impl Future<Output = Result<(), StoreError>> + Send {
        enqueue::notify(conn)
    }

    fn fence_deletion(
        conn: &mut PgConnection,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        enqueue::fence(conn, Fence::DeleteGrant)
    }
}
