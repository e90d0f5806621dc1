//! `esox demo`, the README's first command, run as a newcomer would.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use std::time::{Duration, Instant};

#[test]
fn demo_shows_both_scenarios_and_every_change_arriving() {
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_esox"))
        .arg("demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "platform bar/my-secret: synced after",
        "dev foo/my-secret: synced after",
        "platform bar/my-secret: change arrived after",
        "dev foo/my-secret: change arrived after",
        "Everything arrived",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}
