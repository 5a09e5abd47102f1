//! Configuration through the real binary: every problem printed once with exit 2, warnings for
//! what is accepted but probably wrong, secrets inside URLs never printed (`problems`); and the
//! README's dry-run snippet working when pasted after its quick start (`readme`).

mod problems;
mod readme;
