//! Group-commit ingest (skeleton).

/// Hands notifications to one writer that commits them in batches.
pub struct Ingestor;
