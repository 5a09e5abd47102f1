//! Interpretation of webhook notifications (skeleton).
