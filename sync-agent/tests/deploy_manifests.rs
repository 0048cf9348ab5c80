//! deploy/agent/ must grant the agent exactly what `sync-agent run` syncs by default: a type
//! missing from the ClusterRole would fail its watcher with 403 in every cluster.

#[test]
fn the_cluster_role_covers_every_built_in_type() {
    let role = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/agent/clusterrole.yaml"),
    )
    .unwrap();
    let rules: Vec<&str> = role.split("- apiGroups:").skip(1).collect();
    assert!(!rules.is_empty(), "no rules in the ClusterRole");
    for t in edgepedia_api::catalog::BUILTIN {
        let group = format!("[\"{}\"]", t.group);
        let covered = rules.iter().any(|rule| {
            rule.trim_start().starts_with(&group) && rule.contains(&format!("\"{}\"", t.resource))
        });
        assert!(
            covered,
            "{}/{} is not in clusterrole.yaml",
            t.group, t.resource
        );
    }
    assert!(
        !role.contains("\"create\"")
            && !role.contains("\"update\"")
            && !role.contains("\"delete\"")
    );
}
