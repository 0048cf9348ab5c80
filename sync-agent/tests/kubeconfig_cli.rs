//! `sync-agent kubeconfig` as users run it: the printed file is read back by the real kubectl
//! (v1.32 at /usr/bin/kubectl).

use std::process::Command;

fn agent() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sync-agent"));
    c.env_remove("EDGEPEDIA_TOKEN");
    c
}

#[test]
fn kubectl_reads_the_printed_kubeconfig() {
    let out = agent()
        .args(["kubeconfig", "--server", "https://edge.example.com:8443/"])
        .args([
            "--cluster",
            "prod-eu-1",
            "--cluster",
            "staging",
            "--cluster",
            "staging",
        ])
        .args(["--insecure-skip-tls-verify"])
        .env("EDGEPEDIA_TOKEN", "env-token")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(&path, &out.stdout).unwrap();
    let view = Command::new("kubectl")
        .args(["config", "view", "--raw", "-o", "json", "--kubeconfig"])
        .arg(&path)
        .output()
        .expect("kubectl is installed");
    assert!(
        view.status.success(),
        "{}",
        String::from_utf8_lossy(&view.stderr)
    );
    let config: serde_json::Value = serde_json::from_slice(&view.stdout).unwrap();
    assert_eq!(config["current-context"], "edgepedia");
    let contexts: Vec<&str> = config["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        contexts,
        ["edgepedia", "edgepedia-prod-eu-1", "edgepedia-staging"]
    );
    let staging = config["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "edgepedia-staging")
        .unwrap();
    assert_eq!(
        staging["cluster"]["server"],
        "https://edge.example.com:8443/apis/clusterpedia.io/v1beta1/resources/clusters/staging"
    );
    assert_eq!(staging["cluster"]["insecure-skip-tls-verify"], true);
    assert_eq!(config["users"][0]["user"]["token"], "env-token");
}

#[test]
fn bad_cluster_names_and_servers_are_refused() {
    let out = agent()
        .args([
            "kubeconfig",
            "--server",
            "https://e.example",
            "--token",
            "t",
        ])
        .args(["--cluster", "Prod_1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid cluster name \"Prod_1\""));
    assert!(out.stdout.is_empty());
    let out = agent()
        .args(["kubeconfig", "--server", "ftp://e.example", "--token", "t"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--server must be"));
}
