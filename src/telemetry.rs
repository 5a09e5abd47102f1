//! Logging and metrics (skeleton).
