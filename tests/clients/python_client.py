"""The official Python `kubernetes` client against Edgepedia.

Run by tests/e2e_clients.rs with the server's base URL and a token:
    python3 tests/clients/python_client.py BASE_URL TOKEN FIXTURE_DIR
Deserializes our responses into the client's typed models (a failure raises) and checks
counts and names against the fixture files. Exits non-zero with a message on any mismatch.
"""
import json
import sys
from pathlib import Path

import kubernetes.client as k8s

PREFIX = "/apis/clusterpedia.io/v1beta1/resources"
CLUSTERS = ["prod-eu-1", "prod-us-1", "staging"]


def api_client(base, token, cluster=None):
    config = k8s.Configuration()
    config.host = base + PREFIX + (f"/clusters/{cluster}" if cluster else "")
    config.api_key = {"authorization": token}
    config.api_key_prefix = {"authorization": "Bearer"}
    return k8s.ApiClient(config)


def fixture(fixture_dir):
    objects = []
    for cluster in CLUSTERS:
        items = json.loads((Path(fixture_dir) / f"{cluster}.json").read_text())["items"]
        objects += [(cluster, o) for o in items]
    return objects


def expect(label, got, want):
    if got != want:
        raise SystemExit(f"{label}: got {got!r}, want {want!r}")


def names(items):
    return sorted((i.metadata.namespace or "", i.metadata.name) for i in items)


def main(base, token, fixture_dir):
    objects = fixture(fixture_dir)

    def want(kind, cluster=None):
        return sorted(
            (o["metadata"].get("namespace", ""), o["metadata"]["name"])
            for c, o in objects
            if o["kind"] == kind and (cluster is None or c == cluster)
        )

    every = api_client(base, token)
    core, apps, batch = k8s.CoreV1Api(every), k8s.AppsV1Api(every), k8s.BatchV1Api(every)
    calls = [
        ("Pod", core.list_pod_for_all_namespaces),
        ("Service", core.list_service_for_all_namespaces),
        ("ConfigMap", core.list_config_map_for_all_namespaces),
        ("Secret", core.list_secret_for_all_namespaces),
        ("Namespace", core.list_namespace),
        ("Node", core.list_node),
        ("Deployment", apps.list_deployment_for_all_namespaces),
        ("ReplicaSet", apps.list_replica_set_for_all_namespaces),
        ("StatefulSet", apps.list_stateful_set_for_all_namespaces),
        ("DaemonSet", apps.list_daemon_set_for_all_namespaces),
        ("CronJob", batch.list_cron_job_for_all_namespaces),
        ("Job", batch.list_job_for_all_namespaces),
    ]
    for kind, call in calls:
        result = call()
        expect(f"{kind} list across clusters", names(result.items), want(kind))
        for item in result.items:
            cluster = item.metadata.annotations["shadow.clusterpedia.io/cluster-name"]
            if cluster not in CLUSTERS:
                raise SystemExit(f"{kind} {item.metadata.name}: bad cluster annotation {cluster!r}")

    # Paging with the client's own limit/_continue.
    seen, token_ = [], None
    while True:
        page = core.list_pod_for_all_namespaces(limit=7, _continue=token_)
        seen += [(i.metadata.annotations["shadow.clusterpedia.io/cluster-name"], i.metadata.namespace, i.metadata.name) for i in page.items]
        token_ = page.metadata._continue
        if not token_:
            break
    expect("paged pods", len(seen), len(want("Pod")))
    expect("paged pods are distinct", len(set(seen)), len(seen))

    # Reads by name against a per-cluster server URL, typed per kind.
    for cluster in CLUSTERS:
        one = api_client(base, token, cluster)
        core1, apps1, batch1 = k8s.CoreV1Api(one), k8s.AppsV1Api(one), k8s.BatchV1Api(one)
        readers = {
            "Pod": core1.read_namespaced_pod,
            "Service": core1.read_namespaced_service,
            "ConfigMap": core1.read_namespaced_config_map,
            "Deployment": apps1.read_namespaced_deployment,
            "StatefulSet": apps1.read_namespaced_stateful_set,
            "DaemonSet": apps1.read_namespaced_daemon_set,
            "ReplicaSet": apps1.read_namespaced_replica_set,
            "CronJob": batch1.read_namespaced_cron_job,
            "Job": batch1.read_namespaced_job,
        }
        for kind, read in readers.items():
            for ns, name in want(kind, cluster)[:2]:
                obj = read(name, ns)
                expect(f"{cluster} read {kind}", (obj.metadata.namespace, obj.metadata.name), (ns, name))
        for _, name in want("Node", cluster)[:1]:
            expect(f"{cluster} read node", core1.read_node(name).metadata.name, name)
        expect(f"{cluster} pods in kube-system",
               names(core1.list_namespaced_pod("kube-system").items),
               [p for p in want("Pod", cluster) if p[0] == "kube-system"])
        try:
            core1.read_namespaced_pod("does-not-exist", "default")
            raise SystemExit("reading a missing pod must fail")
        except k8s.exceptions.ApiException as e:
            expect("missing pod status", e.status, 404)
    print("python kubernetes client: all checks passed")


if __name__ == "__main__":
    main(*sys.argv[1:4])
