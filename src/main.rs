//! The `calsync` command line (skeleton).
fn main() {}
