//! SQLite backend (skeleton).

/// The SQLite store.
pub struct SqliteStore;

impl SqliteStore {
    /// Opens (creating if missing) and migrates.
    pub async fn open(_url: &str) -> Result<Self, super::StoreError> {
        todo!()
    }
}
