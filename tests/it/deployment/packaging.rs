//! Packaging facts that silently rot otherwise: the `LICENSE` file is the license `Cargo.toml`
//! declares, the container runs as a numeric non-root user, and `.dockerignore` lets in exactly
//! what the Dockerfile copies (and never build output or local stores).

const CARGO_TOML: &str = include_str!("../../../Cargo.toml");
const LICENSE: &str = include_str!("../../../LICENSE");
const DOCKERFILE: &str = include_str!("../../../Dockerfile");
const DOCKERIGNORE: &str = include_str!("../../../.dockerignore");

#[test]
fn the_license_file_is_the_declared_license() {
    let manifest: toml::Table = CARGO_TOML.parse().expect("Cargo.toml parses");
    assert_eq!(manifest["package"]["license"].as_str(), Some("Apache-2.0"));
    let text: Vec<&str> = LICENSE.split_whitespace().collect();
    let text = text.join(" ");
    assert!(text.starts_with("Apache License Version 2.0, January 2004"));
    for section in [
        "1. Definitions.",
        "2. Grant of Copyright License.",
        "3. Grant of Patent License.",
        "4. Redistribution.",
        "5. Submission of Contributions.",
        "6. Trademarks.",
        "7. Disclaimer of Warranty.",
        "8. Limitation of Liability.",
        "9. Accepting Warranty or Additional Liability.",
        "END OF TERMS AND CONDITIONS",
    ] {
        assert!(text.contains(section), "LICENSE lacks {section:?}");
    }
}

#[test]
fn the_image_runs_as_a_numeric_non_root_user() {
    let users: Vec<&str> = DOCKERFILE
        .lines()
        .filter_map(|line| line.trim().strip_prefix("USER "))
        .collect();
    let last = users.last().expect("a USER instruction");
    let (user, group) = last.trim().split_once(':').unwrap_or((last.trim(), ""));
    let uid: u32 = user.parse().expect("a numeric uid");
    assert_ne!(uid, 0, "not root");
    if !group.is_empty() {
        let gid: u32 = group.parse().expect("a numeric gid");
        assert_ne!(gid, 0, "not the root group");
    }
}

/// Whether `.dockerignore` (an ignore-all `*` followed by `!` exceptions) lets `path` in.
fn admitted(path: &str) -> bool {
    let mut admitted = true;
    for rule in DOCKERIGNORE
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        let (include, pattern) = match rule.strip_prefix('!') {
            Some(pattern) => (true, pattern.trim_end_matches('/')),
            None => (false, rule.trim_end_matches('/')),
        };
        let matches = pattern == "*" || path == pattern || path.starts_with(&format!("{pattern}/"));
        if matches {
            admitted = include;
        }
    }
    admitted
}

#[test]
fn the_build_context_holds_what_the_dockerfile_copies_and_nothing_else() {
    assert!(
        DOCKERIGNORE.lines().any(|line| line.trim() == "*"),
        "ignore everything by default"
    );
    // Every COPY from the context (not --from a stage) is admitted.
    for line in DOCKERFILE.lines().map(str::trim) {
        let Some(args) = line.strip_prefix("COPY ") else {
            continue;
        };
        if args.contains("--from=") {
            continue;
        }
        let words: Vec<&str> = args
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let (_destination, sources) = words.split_last().expect("COPY sources destination");
        for source in sources {
            assert!(
                admitted(source),
                ".dockerignore excludes {source}, which the Dockerfile copies"
            );
        }
    }
    for local in [
        "target",
        "target/release/calsync",
        ".git",
        "calsync.db",
        "tests",
        "deploy",
        ".env",
    ] {
        assert!(
            !admitted(local),
            ".dockerignore lets {local} into the build context"
        );
    }
}
