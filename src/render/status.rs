//! `ApiError` → Kubernetes `Status` JSON, the only place that shape is written.

use crate::error::ApiError;
use serde_json::json;

pub fn status_json(error: &ApiError) -> Vec<u8> {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": error.message,
        "reason": error.reason,
        "code": error.code,
    });
    if let Some(d) = &error.details {
        let mut details = json!({ "name": d.name, "kind": d.kind });
        if !d.group.is_empty() {
            details["group"] = json!(d.group);
        }
        status["details"] = details;
    }
    if let Some(seconds) = error.retry_after {
        status["details"]["retryAfterSeconds"] = json!(seconds);
    }
    serde_json::to_vec(&status).unwrap_or_default()
}

/// A `Status` with `status: Success`, as Kubernetes answers a delete.
pub fn success_json(message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "message": message,
        "code": 200,
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_matches_the_seed_exactly() {
        let body: serde_json::Value =
            serde_json::from_slice(&status_json(&ApiError::unauthorized())).unwrap();
        assert_eq!(
            body,
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                   "message":"Unauthorized","reason":"Unauthorized","code":401})
        );
    }

    #[test]
    fn not_found_carries_details() {
        let body: serde_json::Value =
            serde_json::from_slice(&status_json(&ApiError::object_not_found("", "pods", "x")))
                .unwrap();
        assert_eq!(body["message"], "pods \"x\" not found");
        assert_eq!(body["details"], json!({"name":"x","kind":"pods"}));
        let apps: serde_json::Value = serde_json::from_slice(&status_json(
            &ApiError::object_not_found("apps", "deployments", "d"),
        ))
        .unwrap();
        assert_eq!(apps["message"], "deployments.apps \"d\" not found");
        assert_eq!(apps["details"]["group"], "apps");
    }
}
