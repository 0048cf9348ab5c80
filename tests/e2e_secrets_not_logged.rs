//! Secrets never reach a log: after pushes (Secrets included, their data kept on purpose),
//! refused tokens, forbidden writes and bad bodies, neither the runtime's output nor the
//! agent's contains a token, the HS256 secret or any Secret value of the fixture.

mod support;

use serde_json::{json, Value};
use support::fixture;
use support::{admin_token, mint, Server, SECRET};

/// Every `data`/`stringData` value of the fixture's Secrets.
fn secret_values() -> Vec<String> {
    fixture::all()
        .into_iter()
        .filter(|(_, o)| o["kind"] == "Secret")
        .flat_map(|(_, o)| {
            ["data", "stringData"]
                .into_iter()
                .filter_map(|field| o[field].as_object().cloned())
                .flat_map(|m| {
                    m.into_iter()
                        .filter_map(|(_, v)| v.as_str().map(str::to_owned))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn no_token_key_or_secret_value_is_ever_logged() {
    let secrets = secret_values();
    assert!(
        !secrets.is_empty(),
        "the fixture has Secret values to look for"
    );
    let s = Server::start_logged();
    let mut agent_output = String::new();
    for out in s.push_fixtures(&["--keep-secret-data"]) {
        agent_output.push_str(&String::from_utf8_lossy(&out.stdout));
        agent_output.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    // The Secret values did reach the edge (so not finding them in logs means something).
    let (code, list) = s.get("/apis/clusterpedia.io/v1beta1/resources/api/v1/secrets");
    assert_eq!(code, 200);
    let stored = list.to_string();
    assert!(secrets.iter().all(|v| stored.contains(v.as_str())));

    // Failures of every kind the edge logs or answers.
    let reader = mint("inventory:read", None, None);
    let forged = format!("{}x", admin_token());
    for token in [forged.as_str(), reader.as_str(), "not-a-jwt"] {
        let (code, _) = s.request(
            "POST",
            "/ingest/v1/clusters/staging/events",
            Some(token),
            None,
            Some(b"{\"events\":[]}"),
        );
        assert!(code == 401 || code == 403, "{code}");
    }
    let secret_object = fixture::objects("staging")
        .into_iter()
        .find(|o| o["kind"] == "Secret" && o["data"].is_object())
        .unwrap();
    let mut bad: Value = secret_object.clone();
    bad["metadata"]["uid"] = json!(null);
    let (code, _) = s.request(
        "POST",
        "/ingest/v1/clusters/staging/events",
        Some(&admin_token()),
        None,
        Some(
            &serde_json::to_vec(
                &json!({"events": [{"type": "ADDED", "resource": "secrets", "object": bad}]}),
            )
            .unwrap(),
        ),
    );
    assert_eq!(code, 422);
    let out = s.push_as(&reader, "staging", &fixture::path("staging"), &[]);
    assert!(!out.status.success(), "a read token cannot push");
    agent_output.push_str(&String::from_utf8_lossy(&out.stdout));
    agent_output.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(
        !agent_output.is_empty(),
        "the agent said something to check"
    );

    // stderr goes straight to the file (unbuffered); read it while the state dir exists.
    let host_log = std::fs::read_to_string(s.log_path()).unwrap();
    assert!(
        host_log.contains("listening on"),
        "the log was captured: {host_log}"
    );
    for (what, log) in [("runtime", &host_log), ("agent", &agent_output)] {
        for needle in [admin_token(), reader.clone(), SECRET.to_owned()]
            .iter()
            .chain(&secrets)
        {
            assert!(
                !log.contains(needle.as_str()),
                "the {what} log contains {needle:?}:\n{log}"
            );
        }
    }
}
