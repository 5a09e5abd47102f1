//! Wiring (skeleton).
