//! Bounded inputs (filled in below).
