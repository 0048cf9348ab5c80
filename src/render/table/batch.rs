//! Jobs and CronJobs.

use super::workloads::{CONTAINERS, IMAGES, SELECTOR};
use super::*;

pub(super) const JOB: &[Column] = &[
    CLUSTER,
    NAME,
    col("Status", "Status of the job.", |o, _| {
        Value::from(job_status(o))
    }),
    col(
        "Completions",
        "Succeeded pods of the desired completions.",
        |o, _| Value::from(job_completions(o)),
    ),
    col(
        "Duration",
        "Time required to complete the job.",
        |o, now| Value::from(job_duration(o, now)),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) const CRON_JOB: &[Column] = &[
    CLUSTER,
    NAME,
    col("Schedule", "The schedule in Cron format.", |o, _| {
        text_or(&o["spec"]["schedule"], "")
    }),
    col("Timezone", "The time zone of the schedule.", |o, _| {
        text_or(&o["spec"]["timeZone"], "<none>")
    }),
    // Declared boolean but filled with "True"/"False", as the API server does.
    Column {
        ty: CellType::Boolean,
        ..col(
            "Suspend",
            "Whether subsequent executions are suspended.",
            |o, _| Value::from(suspended(o)),
        )
    },
    int("Active", "Currently running jobs.", |o, _| {
        Value::from(items(&o["status"]["active"]).len())
    }),
    col(
        "Last Schedule",
        "Time since the job was last scheduled.",
        |o, now| {
            let last = &o["status"]["lastScheduleTime"];
            Value::from(if last.is_null() {
                "<none>".to_owned()
            } else {
                age(last, now)
            })
        },
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

/// `printBool` of `spec.suspend`, which the API server defaults to false.
pub(super) fn suspended(o: &Value) -> &'static str {
    if o["spec"]["suspend"] == true {
        "True"
    } else {
        "False"
    }
}

// Jobs.

/// `Complete`, `Failed`, `Terminating`, `Suspended`, `FailureTarget`, `SuccessCriteriaMet` or
/// `Running`, in the API server's order of precedence.
pub(super) fn job_status(o: &Value) -> &'static str {
    let holds = |kind: &str| condition_true(&o["status"]["conditions"], kind);
    if holds("Complete") {
        "Complete"
    } else if holds("Failed") {
        "Failed"
    } else if !o["metadata"]["deletionTimestamp"].is_null() {
        "Terminating"
    } else if holds("Suspended") {
        "Suspended"
    } else if holds("FailureTarget") {
        "FailureTarget"
    } else if holds("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    }
}

/// `succeeded/completions`; without completions, `succeeded/1` (`of N` when parallel).
pub(super) fn job_completions(o: &Value) -> String {
    let succeeded = o["status"]["succeeded"].as_i64().unwrap_or(0);
    if let Some(completions) = o["spec"]["completions"].as_i64() {
        return format!("{succeeded}/{completions}");
    }
    match o["spec"]["parallelism"].as_i64() {
        Some(parallelism) if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
        _ => format!("{succeeded}/1"),
    }
}

/// How long the job ran: to its completion, or until now; empty before it started.
pub(super) fn job_duration(o: &Value, now: i64) -> String {
    let Some(start) = timestamp(&o["status"]["startTime"]) else {
        return String::new();
    };
    let end = timestamp(&o["status"]["completionTime"]).unwrap_or(now);
    human_duration(end - start)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn jobs_and_cron_jobs() {
        let job = |spec: Value, status: Value| {
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("backup-29170"),
                   "spec": spec, "status": status})
        };
        let done = job(
            json!({"completions": 1, "parallelism": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                   "template": {"spec": {"containers": [{"name": "backup", "image": "restic:0.16"}]}}}),
            json!({"succeeded": 1, "startTime": "2025-06-15T12:00:00Z", "completionTime": "2025-06-15T12:01:30Z",
                   "conditions": [{"type": "Complete", "status": "True"}]}),
        );
        let t = one("batch", "Job", done);
        assert_eq!(
            names(&t),
            [
                "Cluster",
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            cells(&t)[2..],
            [
                json!("Complete"),
                json!("1/1"),
                json!("90s"),
                json!("3h"),
                json!("backup"),
                json!("restic:0.16"),
                json!("batch.kubernetes.io/controller-uid=u1")
            ]
        );
        let running = job(
            json!({"parallelism": 3}),
            json!({"active": 3, "startTime": "2025-06-15T15:00:00Z"}),
        );
        let t = one("batch", "Job", running);
        assert_eq!(
            cells(&t)[2..5],
            [json!("Running"), json!("0/1 of 3"), json!("6m40s")]
        );
        let failed = job(
            json!({"completions": 2}),
            json!({"failed": 6, "conditions": [{"type": "Failed", "status": "True"}]}),
        );
        assert_eq!(
            cells(&one("batch", "Job", failed))[2..5],
            [json!("Failed"), json!("0/2"), json!("")]
        );
        let suspended = job(
            json!({"suspend": true}),
            json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
        );
        assert_eq!(cell(&one("batch", "Job", suspended), "Status"), "Suspended");

        let cj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("backup"),
            "spec": {"schedule": "0 2 * * *", "suspend": false,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "backup", "image": "restic:0.16"}]}}}}},
            "status": {"active": [{"name": "backup-29170"}], "lastScheduleTime": "2025-06-15T14:06:40Z"}});
        let t = one("batch", "CronJob", cj);
        assert_eq!(
            names(&t),
            [
                "Cluster",
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            cells(&t)[2..],
            [
                json!("0 2 * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("60m"),
                json!("3h"),
                json!("backup"),
                json!("restic:0.16"),
                json!("<none>")
            ]
        );
        assert_eq!(t["columnDefinitions"][4]["type"], "boolean");
        let idle = json!({"metadata": meta("idle"), "spec": {"schedule": "@daily", "timeZone": "Europe/Paris"}, "status": {}});
        assert_eq!(
            cells(&one("batch", "CronJob", idle))[2..7],
            [
                json!("@daily"),
                json!("Europe/Paris"),
                json!("False"),
                json!(0),
                json!("<none>")
            ]
        );
    }
}
