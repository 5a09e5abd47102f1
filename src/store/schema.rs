//! Whether an existing database holds the schema this version of calsync migrates to, found
//! without changing anything ([`super::open_existing`]).
//!
//! Invariant: this only reads sqlx's migrations table (`_sqlx_migrations`, the same name for
//! both backends); it never creates it, and never applies, skips or repairs a migration.

use sqlx::migrate::Migrator;

use super::{StoreError, redact_url};

/// The versions applied successfully, oldest first (SQL both backends accept).
const APPLIED_VERSIONS: &str =
    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";

/// Reads the applied versions through `pool` (of either backend) and [`verify`]s them; closes
/// the pool when they do not match.
pub(in crate::store) async fn verify_pool<DB>(
    pool: &sqlx::Pool<DB>,
    migrator: &Migrator,
    url: &str,
) -> Result<(), StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let applied = sqlx::query_scalar::<DB, i64>(APPLIED_VERSIONS)
        .fetch_all(pool)
        .await
        .ok();
    let verified = verify(migrator, applied, url);
    if verified.is_err() {
        pool.close().await;
    }
    verified
}

/// Compares the versions a database reports (`None`: it has no migrations table, or it could
/// not be read) with the migrations embedded in this build.
fn verify(migrator: &Migrator, applied: Option<Vec<i64>>, url: &str) -> Result<(), StoreError> {
    let url = redact_url(url);
    let Some(applied) = applied else {
        return Err(StoreError::Setup(format!(
            "{url} holds no calsync schema: it is not a calsync store, or calsync serve never ran on it"
        )));
    };
    let known: Vec<i64> = migrator
        .iter()
        .filter(|migration| migration.migration_type.is_up_migration())
        .map(|migration| migration.version)
        .collect();
    if let Some(unknown) = applied.iter().find(|version| !known.contains(version)) {
        return Err(StoreError::Setup(format!(
            "the schema of {url} is newer than this calsync (migration {unknown} is unknown to it): use the version of calsync that serves it"
        )));
    }
    let pending = known.iter().filter(|version| !applied.contains(version));
    match pending.count() {
        0 => Ok(()),
        count => Err(StoreError::Setup(format!(
            "the schema of {url} is older than this calsync ({count} migration(s) not applied): calsync serve applies them when it starts"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static MIGRATOR: Migrator = sqlx::migrate!("src/store/migrations/sqlite");

    fn message(result: Result<(), StoreError>) -> String {
        match result {
            Err(StoreError::Setup(message)) => message,
            other => panic!("not a setup error: {other:?}"),
        }
    }

    #[test]
    fn the_embedded_versions_pass_and_anything_else_is_named() {
        let url = "postgres://calsync:s3cret@db/calsync";
        let all: Vec<i64> = MIGRATOR.iter().map(|migration| migration.version).collect();
        verify(&MIGRATOR, Some(all.clone()), url).unwrap();

        let missing = message(verify(&MIGRATOR, None, url));
        assert!(missing.contains("no calsync schema"), "{missing}");
        assert!(!missing.contains("s3cret"), "{missing}");

        let older = message(verify(&MIGRATOR, Some(Vec::new()), url));
        assert!(older.contains("older than this calsync"), "{older}");

        let mut newer = all;
        newer.push(99_999_999);
        let newer = message(verify(&MIGRATOR, Some(newer), url));
        assert!(newer.contains("newer than this calsync"), "{newer}");
    }
}
