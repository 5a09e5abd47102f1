//! [`SmallDisk`]: a real filesystem that runs out of space on command — a small tmpfs mounted
//! on a temporary directory, filled by a filler file and freed by deleting it.
//!
//! Mounting needs root (`CAP_SYS_ADMIN`), which the test machines and CI have. Where it is
//! missing, [`SmallDisk::mount`] answers `None` and says on the terminal that the full-disk test
//! was skipped and why. The filesystem is unmounted (lazily, so a process still holding files
//! on it does not stop that) when the value is dropped, also when the test panics; only a test
//! process killed outright leaves its mount behind (`umount` the `…/disk` directory it names).

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted small tmpfs.
pub struct SmallDisk {
    mount: PathBuf,
    filler: PathBuf,
    /// Holds the mount point's parent directory (removed after unmounting).
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` bytes (`mount -o size=…`), or `None` (announcing the skip) when
    /// this machine does not let the test mount one.
    pub fn mount(size: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).expect("create the mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("calsync-test")
            .arg(&mount)
            .output();
        let problem = match mounted {
            Ok(output) if output.status.success() => None,
            Ok(output) => Some(String::from_utf8_lossy(&output.stderr).trim().to_string()),
            Err(error) => Some(error.to_string()),
        };
        if let Some(problem) = problem {
            eprintln!(
                "skipped: cannot mount a small tmpfs here ({problem}); the full-disk test needs \
                 root (CAP_SYS_ADMIN)"
            );
            return None;
        }
        Some(SmallDisk {
            filler: mount.join("filler"),
            mount,
            _dir: dir,
        })
    }

    /// The mounted directory.
    pub fn path(&self) -> &Path {
        &self.mount
    }

    /// Fills the filesystem: grows a filler file until no byte more fits.
    pub fn fill(&self) {
        let mut filler = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)
            .expect("create the filler file");
        for chunk in [1 << 16, 1 << 12, 1] {
            let bytes = vec![0xa5_u8; chunk];
            loop {
                match filler.write_all(&bytes).and_then(|()| filler.sync_data()) {
                    Ok(()) => {}
                    Err(error) if error.kind() == ErrorKind::StorageFull => break,
                    Err(error) => panic!("filling the small disk: {error}"),
                }
            }
        }
    }

    /// Frees the space the filler took.
    pub fn free(&self) {
        std::fs::remove_file(&self.filler).expect("remove the filler file");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg("-l").arg(&self.mount).status();
        if !matches!(unmounted, Ok(status) if status.success()) && !std::thread::panicking() {
            panic!(
                "could not unmount the small disk at {}",
                self.mount.display()
            );
        }
    }
}
