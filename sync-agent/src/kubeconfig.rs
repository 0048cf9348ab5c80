//! `sync-agent kubeconfig`: a ready kubeconfig for Edgepedia, with one context over all
//! clusters and one per cluster, as Clusterpedia users set theirs up. Scalars are written as
//! JSON strings, which are valid YAML, so no value can break the document.

use edgepedia_api::ClusterName;

const RESOURCES: &str = "/apis/clusterpedia.io/v1beta1/resources";

pub fn render(server: &str, token: &str, clusters: &[ClusterName], insecure: bool) -> String {
    let server = server.trim_end_matches('/');
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let mut entries = vec![("edgepedia".to_owned(), format!("{server}{RESOURCES}"))];
    entries.extend(clusters.iter().map(|c| {
        (
            format!("edgepedia-{c}"),
            format!("{server}{RESOURCES}/clusters/{c}"),
        )
    }));
    let mut out = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, url) in &entries {
        out.push_str(&format!(
            "- name: {}\n  cluster:\n    server: {}\n",
            q(name),
            q(url)
        ));
        if insecure {
            out.push_str("    insecure-skip-tls-verify: true\n");
        }
    }
    out.push_str(&format!(
        "users:\n- name: \"edgepedia\"\n  user:\n    token: {}\ncontexts:\n",
        q(token)
    ));
    for (name, _) in &entries {
        out.push_str(&format!(
            "- name: {0}\n  context:\n    cluster: {0}\n    user: \"edgepedia\"\n",
            q(name)
        ));
    }
    out.push_str("current-context: \"edgepedia\"\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_all_clusters_context_and_one_per_cluster() {
        let clusters = vec![ClusterName::parse("staging").unwrap()];
        let text = render("http://127.0.0.1:3000", "t0k", &clusters, true);
        assert_eq!(
            text,
            r#"apiVersion: v1
kind: Config
clusters:
- name: "edgepedia"
  cluster:
    server: "http://127.0.0.1:3000/apis/clusterpedia.io/v1beta1/resources"
    insecure-skip-tls-verify: true
- name: "edgepedia-staging"
  cluster:
    server: "http://127.0.0.1:3000/apis/clusterpedia.io/v1beta1/resources/clusters/staging"
    insecure-skip-tls-verify: true
users:
- name: "edgepedia"
  user:
    token: "t0k"
contexts:
- name: "edgepedia"
  context:
    cluster: "edgepedia"
    user: "edgepedia"
- name: "edgepedia-staging"
  context:
    cluster: "edgepedia-staging"
    user: "edgepedia"
current-context: "edgepedia"
"#
        );
        let plain = render("https://e.example", "t", &[], false);
        assert!(!plain.contains("insecure"));
        assert_eq!(
            plain.matches("- name:").count(),
            3,
            "cluster, user, context"
        );
    }

    /// The real kubectl (v1.32 at /usr/bin/kubectl) must read the file as intended.
    #[test]
    fn real_kubectl_reads_it() {
        let clusters = vec![
            ClusterName::parse("prod-eu-1").unwrap(),
            ClusterName::parse("staging").unwrap(),
        ];
        let text = render("https://edge.example.com/", "tok\"en", &clusters, false);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, &text).unwrap();
        let out = std::process::Command::new("kubectl")
            .args(["config", "view", "--raw", "-o", "json", "--kubeconfig"])
            .arg(&path)
            .output()
            .expect("kubectl is installed (v1.32 at /usr/bin/kubectl)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(config["current-context"], "edgepedia");
        let servers: Vec<&str> = config["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["cluster"]["server"].as_str().unwrap())
            .collect();
        assert_eq!(
            servers,
            [
                "https://edge.example.com/apis/clusterpedia.io/v1beta1/resources",
                "https://edge.example.com/apis/clusterpedia.io/v1beta1/resources/clusters/prod-eu-1",
                "https://edge.example.com/apis/clusterpedia.io/v1beta1/resources/clusters/staging",
            ]
        );
        assert_eq!(config["users"][0]["user"]["token"], "tok\"en");
        let contexts: Vec<(&str, &str, &str)> = config["contexts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap(),
                    c["context"]["cluster"].as_str().unwrap(),
                    c["context"]["user"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            contexts,
            [
                ("edgepedia", "edgepedia", "edgepedia"),
                ("edgepedia-prod-eu-1", "edgepedia-prod-eu-1", "edgepedia"),
                ("edgepedia-staging", "edgepedia-staging", "edgepedia"),
            ]
        );
    }
}
