//! The webhook edge (skeleton).
