//! Pods: `printPod`'s READY, STATUS, RESTARTS and the wide columns.

use super::*;

// Per-kind tables, in the order `printers.go` registers their columns.

pub(super) const POD: &[Column] = &[
    CLUSTER,
    NAME,
    col(
        "Ready",
        "The aggregate readiness state of this pod for accepting traffic.",
        |o, now| Value::from(pod_summary(o, now).ready),
    ),
    col(
        "Status",
        "The aggregate status of the containers in this pod.",
        |o, now| Value::from(pod_summary(o, now).status),
    ),
    col(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last \
         container in this pod has restarted.",
        |o, now| Value::from(pod_summary(o, now).restarts),
    ),
    AGE,
    wide("IP", "IP address allocated to the pod.", |o, _| {
        Value::from(pod_ip(o))
    }),
    wide("Node", "The node the pod is scheduled onto.", |o, _| {
        text_or(&o["spec"]["nodeName"], "<none>")
    }),
    wide(
        "Nominated Node",
        "The node the scheduler nominated for preemption.",
        |o, _| text_or(&o["status"]["nominatedNodeName"], "<none>"),
    ),
    wide(
        "Readiness Gates",
        "Readiness gates that hold, of all the pod's readiness gates.",
        |o, _| Value::from(readiness_gates(o)),
    ),
];

// Pods.

/// READY, STATUS and RESTARTS of a pod. `printPod` computes them in one walk because they
/// depend on each other (an initializing pod counts only its sidecars as ready, and only their
/// restarts once initialized), so each column takes its part of the same summary.
pub(super) struct PodSummary {
    ready: String,
    status: String,
    restarts: String,
}

/// Restarts of some containers and when the latest of them ended.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Restarts {
    count: i64,
    last: Option<i64>,
}

impl Restarts {
    fn add(&mut self, container_status: &Value) {
        self.count += container_status["restartCount"].as_i64().unwrap_or(0);
        let finished = timestamp(&container_status["lastState"]["terminated"]["finishedAt"]);
        self.last = self.last.max(finished);
    }

    /// `3`, or `3 (5m ago)` when the last termination is known.
    fn render(self, now: i64) -> String {
        match self.last {
            Some(t) if self.count != 0 => {
                format!("{} ({} ago)", self.count, human_duration(now - t))
            }
            _ => self.count.to_string(),
        }
    }
}

/// A container state's `terminated` or `waiting` part, when it is set.
pub(super) fn state<'a>(container_status: &'a Value, which: &str) -> Option<&'a Value> {
    Some(&container_status["state"][which]).filter(|s| s.is_object())
}

pub(super) fn exit_code(terminated: &Value) -> i64 {
    terminated["exitCode"].as_i64().unwrap_or(0)
}

/// Why a container terminated: its reason, else `Signal:N`, else `ExitCode:N`.
pub(super) fn terminated_reason(terminated: &Value) -> String {
    if let Some(reason) = non_empty(&terminated["reason"]) {
        return reason.to_owned();
    }
    match terminated["signal"].as_i64() {
        Some(signal) if signal != 0 => format!("Signal:{signal}"),
        _ => format!("ExitCode:{}", exit_code(terminated)),
    }
}

/// `printPod`'s readiness, status reason and restarts (Kubernetes 1.3x, sidecars included).
pub(super) fn pod_summary(o: &Value, now: i64) -> PodSummary {
    let (spec, status) = (&o["spec"], &o["status"]);
    let phase = status["phase"].as_str().unwrap_or_default();
    let mut reason = non_empty(&status["reason"]).unwrap_or(phase).to_owned();
    if items(&status["conditions"])
        .iter()
        .any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated")
    {
        reason = "SchedulingGated".to_owned();
    }
    let init_specs = items(&spec["initContainers"]);
    let is_sidecar = |c: &Value| c["restartPolicy"] == "Always";
    let sidecar_named = |name: &Value| {
        init_specs
            .iter()
            .any(|c| &c["name"] == name && is_sidecar(c))
    };
    let total =
        items(&spec["containers"]).len() + init_specs.iter().filter(|c| is_sidecar(c)).count();
    let mut ready = 0;
    let mut restarts = Restarts::default();
    let mut sidecar_restarts = Restarts::default();
    let mut initializing = false;
    for (i, c) in items(&status["initContainerStatuses"]).iter().enumerate() {
        restarts.add(c);
        let sidecar = sidecar_named(&c["name"]);
        if sidecar {
            sidecar_restarts.add(c);
        }
        let terminated = state(c, "terminated");
        if terminated.is_some_and(|t| exit_code(t) == 0) {
            continue;
        }
        if sidecar && c["started"] == true {
            ready += usize::from(c["ready"] == true);
            continue;
        }
        reason = match (
            terminated,
            state(c, "waiting").and_then(|w| non_empty(&w["reason"])),
        ) {
            (Some(t), _) => format!("Init:{}", terminated_reason(t)),
            (None, Some(waiting)) if waiting != "PodInitializing" => format!("Init:{waiting}"),
            _ => format!("Init:{i}/{}", init_specs.len()),
        };
        initializing = true;
        break;
    }
    if !initializing || condition_true(&status["conditions"], "Initialized") {
        restarts = sidecar_restarts;
        let mut has_running = false;
        let mut error_reason = None;
        for c in items(&status["containerStatuses"]).iter().rev() {
            restarts.add(c);
            if let Some(waiting) = state(c, "waiting").and_then(|w| non_empty(&w["reason"])) {
                reason = waiting.to_owned();
            } else if let Some(t) = state(c, "terminated") {
                reason = terminated_reason(t);
                if exit_code(t) != 0 {
                    error_reason = Some(reason.clone());
                }
            } else if c["ready"] == true && state(c, "running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        // A finished container next to running ones: the pod is still up.
        if reason == "Completed" {
            if has_running && condition_true(&status["conditions"], "Ready") {
                reason = "Running".to_owned();
            } else if let Some(error) = error_reason {
                reason = error;
            } else if has_running {
                reason = "NotReady".to_owned();
            }
        }
    }
    if !o["metadata"]["deletionTimestamp"].is_null() {
        if status["reason"] == "NodeLost" {
            reason = "Unknown".to_owned();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_owned();
        }
    }
    PodSummary {
        ready: format!("{ready}/{total}"),
        status: reason,
        restarts: restarts.render(now),
    }
}

/// The row conditions `printPod` attaches to finished pods (clients may hide completed rows).
pub(super) fn pod_conditions(o: &Value) -> Option<Value> {
    let (reason, message) = match o["status"]["phase"].as_str()? {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

/// The first pod IP.
pub(super) fn pod_ip(o: &Value) -> String {
    let status = &o["status"];
    non_empty(&status["podIPs"][0]["ip"])
        .or_else(|| non_empty(&status["podIP"]))
        .unwrap_or("<none>")
        .to_owned()
}

/// `met/total` readiness gates whose pod condition holds, or `<none>`.
pub(super) fn readiness_gates(o: &Value) -> String {
    let gates = items(&o["spec"]["readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_owned();
    }
    let conditions = items(&o["status"]["conditions"]);
    let met = gates
        .iter()
        .filter(|gate| {
            conditions
                .iter()
                .find(|c| c["type"] == gate["conditionType"])
                .is_some_and(|c| c["status"] == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn pod(spec: Value, status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta("api-0"), "spec": spec, "status": status})
    }

    fn pod_status(spec: Value, status: Value) -> String {
        pod_summary(&pod(spec, status), NOW).status
    }

    fn running(name: &str, ready: bool, restarts: i64) -> Value {
        json!({"name": name, "ready": ready, "restartCount": restarts, "started": true,
               "state": {"running": {"startedAt": CREATED}}})
    }

    #[test]
    fn pods_show_kubectls_columns_and_cells() {
        let mut crashed = running("a", true, 3);
        crashed["lastState"] =
            json!({"terminated": {"exitCode": 1, "finishedAt": "2025-06-15T15:01:40Z"}});
        let p = pod(
            json!({"nodeName": "node-1", "containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}],
                   "containerStatuses": [crashed, running("b", false, 0)]}),
        );
        let t = render("", "Pod", IncludeObject::Metadata, &[p]);
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            names(&t),
            [
                "Cluster",
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert_eq!(
            cells(&t),
            [
                json!("prod-eu-1"),
                json!("api-0"),
                json!("1/2"),
                json!("Running"),
                json!("3 (5m ago)"),
                json!("3h"),
                json!("10.0.0.1"),
                json!("node-1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        let priorities: Vec<u64> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["priority"].as_u64().unwrap())
            .collect();
        assert_eq!(priorities, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
        assert!(t["rows"][0].get("conditions").is_none());

        // Restarts without a known last termination are a bare count.
        let p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Running", "containerStatuses": [running("a", true, 3)]}),
        );
        assert_eq!(pod_summary(&p, NOW).restarts, "3");
    }

    #[test]
    fn pod_status_follows_the_api_server() {
        let one_container = json!({"containers": [{"name": "a"}]});
        let waiting = |reason: &str| json!({"name": "a", "ready": false, "restartCount": 7, "state": {"waiting": {"reason": reason}}});
        assert_eq!(
            pod_status(
                one_container.clone(),
                json!({"phase": "Running", "containerStatuses": [waiting("CrashLoopBackOff")]})
            ),
            "CrashLoopBackOff"
        );
        // A finished job pod.
        let completed = json!({"name": "a", "ready": false, "restartCount": 0,
                               "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
        let p = pod(
            one_container.clone(),
            json!({"phase": "Succeeded", "containerStatuses": [completed]}),
        );
        assert_eq!(pod_summary(&p, NOW).status, "Completed");
        assert_eq!(pod_summary(&p, NOW).ready, "0/1");
        let t = render("", "Pod", IncludeObject::None, &[p]);
        assert_eq!(t["rows"][0]["conditions"][0]["type"], "Completed");
        assert_eq!(t["rows"][0]["conditions"][0]["reason"], "Succeeded");
        // Errors without a reason.
        let killed = json!({"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}});
        assert_eq!(
            pod_status(
                one_container.clone(),
                json!({"phase": "Failed", "containerStatuses": [killed]})
            ),
            "Signal:9"
        );
        let failed = json!({"name": "a", "state": {"terminated": {"exitCode": 2}}});
        assert_eq!(
            pod_status(
                one_container.clone(),
                json!({"phase": "Failed", "containerStatuses": [failed]})
            ),
            "ExitCode:2"
        );
        // Init containers.
        let init = json!({"initContainers": [{"name": "init"}], "containers": [{"name": "a"}]});
        let init_waiting = |reason: &str| {
            json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "init", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": reason}}}]})
        };
        assert_eq!(
            pod_status(init.clone(), init_waiting("PodInitializing")),
            "Init:0/1"
        );
        assert_eq!(
            pod_status(init.clone(), init_waiting("ImagePullBackOff")),
            "Init:ImagePullBackOff"
        );
        let init_failed = json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "init", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]});
        assert_eq!(pod_status(init.clone(), init_failed), "Init:Error");
        let init_running = json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "init", "state": {"running": {}}}],
            "containerStatuses": [{"name": "a", "ready": false, "state": {"waiting": {"reason": "PodInitializing"}}}]});
        let p = pod(init.clone(), init_running);
        assert_eq!(pod_summary(&p, NOW).status, "Init:0/1");
        assert_eq!(pod_summary(&p, NOW).ready, "0/1");
        // A ready sidecar (restartable init container) counts among the containers.
        let sidecar = json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "a"}]});
        let p = pod(
            sidecar,
            json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                   "initContainerStatuses": [running("proxy", true, 1)],
                   "containerStatuses": [running("a", true, 0)]}),
        );
        let summary = pod_summary(&p, NOW);
        assert_eq!(
            (
                summary.ready.as_str(),
                summary.status.as_str(),
                summary.restarts.as_str()
            ),
            ("2/2", "Running", "1")
        );
        // A completed container next to a running, unready one.
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Running", "containerStatuses": [
                running("a", true, 0),
                {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        assert_eq!(pod_summary(&p, NOW).status, "NotReady");
        // Deleting, scheduling gates, the pod's own reason.
        let mut p = pod(
            one_container.clone(),
            json!({"phase": "Running", "containerStatuses": [running("a", true, 0)]}),
        );
        p["metadata"]["deletionTimestamp"] = json!(CREATED);
        assert_eq!(pod_summary(&p, NOW).status, "Terminating");
        assert_eq!(
            pod_status(
                one_container.clone(),
                json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]})
            ),
            "SchedulingGated"
        );
        assert_eq!(
            pod_status(
                one_container,
                json!({"phase": "Failed", "reason": "Evicted"})
            ),
            "Evicted"
        );
    }

    #[test]
    fn pod_wide_columns() {
        let p = pod(
            json!({"containers": [{"name": "a"}], "readinessGates": [{"conditionType": "lb/ready"}, {"conditionType": "other"}]}),
            json!({"phase": "Pending", "nominatedNodeName": "node-9", "conditions": [
                {"type": "lb/ready", "status": "True"}, {"type": "other", "status": "False"}]}),
        );
        let t = one("", "Pod", p);
        assert_eq!(cell(&t, "IP"), "<none>");
        assert_eq!(cell(&t, "Node"), "<none>");
        assert_eq!(cell(&t, "Nominated Node"), "node-9");
        assert_eq!(cell(&t, "Readiness Gates"), "1/2");
        assert_eq!(cell(&t, "Ready"), "0/1");
        assert_eq!(cell(&t, "Status"), "Pending");
        assert_eq!(cell(&t, "Restarts"), "0");
    }
}
