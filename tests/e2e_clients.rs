//! Kubernetes clients against the real `.wasm`: the official Python `kubernetes` client
//! deserializes our responses into its typed models (tests/clients/python_client.py).

mod support;

use support::{admin_token, repo, Server};

#[test]
fn python_kubernetes_client_reads_typed_models() {
    let s = Server::shared();
    let out = std::process::Command::new("python3")
        .arg(repo().join("tests/clients/python_client.py"))
        .arg(&s.base)
        .arg(admin_token())
        .arg(repo().join("tests/fixtures"))
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python client failed (is the `kubernetes` package installed? `make test` installs it):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
