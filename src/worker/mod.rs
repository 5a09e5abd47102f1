//! The job runner (skeleton).
