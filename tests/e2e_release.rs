//! Release artifacts (`scripts/dist.sh`, what `make dist` runs after `make build`) and one
//! version everywhere: the component's `/version` and `sync-agent --version` agree.

mod support;

use std::process::Command;
use support::Server;

#[test]
fn dist_holds_the_artifacts_and_their_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dist");
    let run = Command::new("sh")
        .arg(support::repo().join("scripts/dist.sh"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let arch = String::from_utf8(Command::new("uname").arg("-m").output().unwrap().stdout).unwrap();
    for name in [
        "edgepedia.wasm".to_owned(),
        "spin.toml".to_owned(),
        format!("sync-agent-linux-{}", arch.trim()),
        format!("edgepedia-host-linux-{}", arch.trim()),
    ] {
        let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
        assert!(
            sums.lines().any(|l| l.ends_with(&format!("  {name}"))),
            "{name} in {sums}"
        );
    }
    let check = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let wasm = std::fs::read(out.join("edgepedia.wasm")).unwrap();
    assert_eq!(&wasm[..4], b"\0asm");
    let manifest = std::fs::read_to_string(out.join("spin.toml")).unwrap();
    assert!(manifest.contains("source = \"edgepedia.wasm\""));
}

#[test]
fn the_component_and_the_agent_report_the_same_version() {
    let s = Server::start();
    let (code, version) = s.get_as("/version", None);
    assert_eq!(code, 200);
    let edge = version["gitVersion"].as_str().unwrap();
    let agent = Command::new(support::agent_bin())
        .arg("--version")
        .output()
        .unwrap();
    let agent = String::from_utf8(agent.stdout).unwrap();
    let agent = agent.trim().strip_prefix("sync-agent ").unwrap();
    assert!(!agent.is_empty());
    assert!(
        edge.ends_with(&format!("+edgepedia.{agent}")),
        "{edge} vs {agent}"
    );
}
