//! What the example-contract tests share: finding (and, when missing, building) the example
//! binaries they drive.

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/<name>`, from this test's own path
/// (`target/<profile>/deps/<test>`), built first when missing.
pub(crate) fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<profile>/deps");
    let binary = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "echorpc-examples", "--example", name]);
        if profile_dir.file_name().is_some_and(|dir| dir == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the {name} example failed");
    }
    assert!(binary.exists(), "{} does not exist", binary.display());
    binary
}
