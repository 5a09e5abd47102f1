//! Any configuration file text: settings or typed errors, never a panic.
#![no_main]

use calsync::config::{LoadOptions, load};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calsync.toml");
    std::fs::write(&path, text).unwrap();
    let options = LoadOptions {
        config_path: Some(path),
        ..LoadOptions::default()
    };
    if let Err(errors) = load(&options) {
        assert!(!errors.errors.is_empty());
    }
});
