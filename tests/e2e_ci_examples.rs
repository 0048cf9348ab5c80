//! `examples/ci/edgepedia-check.sh` (POSIX sh, curl, jq) against the real `.wasm` in the local
//! runtime, as a CI job would run it; then the CI examples that call it
//! (`examples/ci/github-actions.yml`, `examples/ci/gitlab-ci.yml`): their check steps run
//! verbatim under `sh`, with a token shaped like the provider's OIDC token, against an edge set
//! up as docs/auth.md says. Expectations come from the fixture files.

mod support;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};
use support::{admin_token, fixture, mint, Server};

fn check(s: &Server, args: &[&str]) -> Output {
    Command::new("sh")
        .arg(support::repo().join("examples/ci/edgepedia-check.sh"))
        .args(args)
        .env("EDGE", &s.base)
        .env("TOKEN", mint("inventory:read", None, None))
        .output()
        .expect("run sh")
}

/// An image some fixture pod runs (its first container's).
fn running_image() -> String {
    fixture::all()
        .iter()
        .find(|(_, o)| o["kind"] == "Pod")
        .map(|(_, o)| {
            o["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .unwrap()
}

/// `cluster namespace/name` of every fixture pod with a container or init container running
/// exactly `image`: what `image-absent` must print.
fn pods_running(image: &str) -> BTreeSet<String> {
    fixture::all()
        .iter()
        .filter(|(_, o)| o["kind"] == "Pod")
        .filter(|(_, o)| {
            ["containers", "initContainers"].iter().any(|field| {
                o["spec"][field]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["image"] == image))
            })
        })
        .map(|(c, o)| {
            format!(
                "{c} {}/{}",
                o["metadata"]["namespace"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn lines(out: &Output) -> BTreeSet<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_ci_checks_answer_from_the_edge() {
    let s = Server::with_fixtures();

    // image-absent: every pod running the image, from the fixture; exit 1. Absent: exit 0.
    let image = running_image();
    let running = pods_running(&image);
    assert!(!running.is_empty());
    let out = check(&s, &["image-absent", &image]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&out), running);
    let out = check(&s, &["image-absent", "registry.invalid/never:0"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    // stale-clusters: fresh data passes; with a limit below the data's age every cluster fails.
    let out = check(&s, &["stale-clusters", "600"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = check(&s, &["stale-clusters", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let stale: BTreeSet<String> = lines(&out)
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    let all: BTreeSet<String> = fixture::CLUSTERS.iter().map(|c| c.to_string()).collect();
    assert_eq!(stale, all);

    // changes-since: everything first (one line per object a reader may see: no Secrets
    // without inventory:secrets), nothing the second time, then exactly the change made in
    // between.
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("cursor");
    let cursor = cursor.to_str().unwrap();
    let out = check(&s, &["changes-since", cursor]);
    assert_eq!(out.status.code(), Some(1));
    let visible = fixture::all()
        .iter()
        .filter(|(_, o)| o["kind"] != "Secret")
        .count();
    assert_eq!(lines(&out).len(), visible);
    let out = check(&s, &["changes-since", cursor]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (code, _) = s.request(
        "POST",
        "/ingest/v1/clusters/staging/events",
        Some(&admin_token()),
        None,
        Some(
            &serde_json::to_vec(&json!({"events": [{"type": "ADDED", "resource": "configmaps",
                "object": {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "ci-new", "namespace": "default", "uid": "uid-ci-new", "resourceVersion": "1"}}}]}))
            .unwrap(),
        ),
    );
    assert_eq!(code, 200);
    let out = check(&s, &["changes-since", cursor]);
    assert_eq!(out.status.code(), Some(1));
    let printed: Vec<String> = lines(&out).into_iter().collect();
    assert_eq!(printed.len(), 1);
    assert!(
        printed[0].ends_with(" ADDED staging /v1/configmaps default/ci-new"),
        "{printed:?}"
    );

    // A bad token is an error (2), not a pass.
    let out = Command::new("sh")
        .arg(support::repo().join("examples/ci/edgepedia-check.sh"))
        .args(["stale-clusters"])
        .env("EDGE", &s.base)
        .env("TOKEN", "not-a-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ---------------------------------------------------------------------------------------------
// The CI examples: github-actions.yml and gitlab-ci.yml.
//
// What runs here: each file's check steps (the `run:` / `script:` lines that call
// edgepedia-check.sh), verbatim under `sh -e -c`, from the repository root as after a checkout.
// What cannot run here: the OIDC step itself. GitHub's token endpoint
// (ACTIONS_ID_TOKEN_REQUEST_URL) and GitLab's `id_tokens:` exist only inside those CI
// systems. In their place the test mints a token shaped like theirs: the provider's issuer,
// the audience the file asks for, a `sub` like the provider's, no `scope`, RS256. It puts the
// token where the file would have it: TOKEN, which the GitHub token step writes to
// $GITHUB_ENV, and the `id_tokens:` variable that GitLab sets. The edge is configured as
// docs/auth.md describes for the provider (issuer, default scope for subject globs). It trusts
// a static public key where production would fetch the provider's JWKS; tests/e2e_auth_keys.rs
// covers the JWKS fetch.
// ---------------------------------------------------------------------------------------------

/// One CI provider as docs/auth.md configures the edge for it.
struct Provider {
    issuer: &'static str,
    /// `jwt_default_scope_subjects`.
    subjects: &'static str,
    /// A `sub` the globs grant inventory:read: the default branch of a repository of `acme`.
    trusted_sub: &'static str,
    /// A `sub` they do not: another owner, or another branch.
    untrusted_sub: &'static str,
}

const GITHUB: Provider = Provider {
    issuer: "https://token.actions.githubusercontent.com",
    subjects: "repo:acme/*:ref:refs/heads/main",
    trusted_sub: "repo:acme/inventory:ref:refs/heads/main",
    // docs/auth.md's warning: a look-alike owner must not match `repo:acme/*`.
    untrusted_sub: "repo:acme-evil/inventory:ref:refs/heads/main",
};

const GITLAB: Provider = Provider {
    issuer: "https://gitlab.com",
    subjects: "project_path:acme/*:ref_type:branch:ref:main",
    trusted_sub: "project_path:acme/inventory:ref_type:branch:ref:main",
    untrusted_sub: "project_path:acme/inventory:ref_type:branch:ref:feature-x",
};

/// An image no fixture object mentions: the passing case of `image-absent`.
const ABSENT_IMAGE: &str = "registry.invalid/retired:0";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn fixture_key(name: &str) -> String {
    std::fs::read_to_string(support::repo().join(format!("tests/fixtures/keys/{name}.pem")))
        .unwrap()
}

/// What the provider would issue to a job: RS256, no `scope` claim, expiring in minutes.
fn oidc_token(provider: &Provider, audience: &str, sub: &str) -> String {
    let now = now();
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({"iss": provider.issuer, "aud": audience, "sub": sub,
                "iat": now, "nbf": now, "exp": now + 300}),
        &EncodingKey::from_rsa_pem(fixture_key("rsa-a").as_bytes()).unwrap(),
    )
    .unwrap()
}

/// An edge that trusts `provider` for reads (docs/auth.md), holding the whole fixture. The
/// agents' HS256 token carries the provider's issuer, since all key sources share one.
fn edge_for(provider: &Provider) -> Server {
    let public_key = fixture_key("rsa-a.pub");
    let server = Server::start_with_env(&[
        ("SPIN_VARIABLE_JWT_ISSUER", provider.issuer),
        ("SPIN_VARIABLE_JWT_PUBLIC_KEYS", &public_key),
        ("SPIN_VARIABLE_JWT_DEFAULT_SCOPE", "inventory:read"),
        (
            "SPIN_VARIABLE_JWT_DEFAULT_SCOPE_SUBJECTS",
            provider.subjects,
        ),
    ]);
    let now = now();
    let writer = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"iss": provider.issuer, "aud": "edgepedia", "iat": now, "exp": now + 600,
                "scope": "inventory:write inventory:secrets"}),
        &EncodingKey::from_secret(support::SECRET.as_bytes()),
    )
    .unwrap();
    server.push_fixtures_as(&writer, &[]);
    server
}

fn ci_file(name: &str) -> Value {
    let path = support::repo().join("examples/ci").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
}

/// Runs one CI shell snippet as the CI system would: `sh -e -c`, from the checkout's root,
/// with exactly the given environment (plus PATH for sh, curl and jq).
fn run_snippet(snippet: &str, env: &BTreeMap<String, String>) -> Output {
    Command::new("sh")
        .args(["-e", "-c", snippet])
        .current_dir(support::repo())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .envs(env)
        .output()
        .expect("run sh")
}

fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `audience=<value>` in a URL (GitHub's token request).
fn audience_in_url(text: &str) -> String {
    let at = text
        .find("audience=")
        .expect("the token request names an audience")
        + "audience=".len();
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-._:/%".contains(*c))
        .collect()
}

/// Names referenced as `$NAME` or `${NAME}` in a shell snippet.
fn shell_variables(snippet: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = snippet;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let body = rest.strip_prefix('{').unwrap_or(rest);
        let name: String = body
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            names.insert(name);
        }
    }
    names
}

fn jwt_audience_default() -> String {
    let manifest = std::fs::read_to_string(support::repo().join("spin.toml")).unwrap();
    let line = manifest
        .lines()
        .find(|l| l.starts_with("jwt_audience"))
        .expect("spin.toml declares jwt_audience");
    line.split('"').nth(1).unwrap().to_owned()
}

/// The GitHub workflow, read: its job's environment and check steps, and the audience its
/// token step asks for.
struct Workflow {
    env: BTreeMap<String, String>,
    checks: Vec<(String, String)>,
    audience: String,
}

fn github_workflow() -> Workflow {
    let wf = ci_file("github-actions.yml");
    let jobs = wf["jobs"].as_object().expect("jobs");
    assert_eq!(jobs.len(), 1, "one job");
    let job = jobs.values().next().unwrap();

    // The token comes from GitHub's OIDC provider: the job may ask for one...
    let permission = job
        .pointer("/permissions/id-token")
        .or_else(|| wf.pointer("/permissions/id-token"));
    assert_eq!(
        permission.and_then(Value::as_str),
        Some("write"),
        "permissions: id-token: write"
    );
    // ...and one step asks, with an audience, and hands the token to later steps as TOKEN.
    let steps = job["steps"].as_array().expect("steps");
    let runs: Vec<&str> = steps
        .iter()
        .map(|s| s["run"].as_str().unwrap_or(""))
        .collect();
    let token_step = runs
        .iter()
        .position(|r| r.contains("ACTIONS_ID_TOKEN_REQUEST_URL"))
        .expect("a step requests the OIDC token");
    let fetch = runs[token_step];
    assert!(fetch.contains("Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN"));
    assert!(
        fetch.contains("::add-mask::"),
        "the token is masked in logs"
    );
    assert!(fetch.contains("TOKEN=") && fetch.contains("$GITHUB_ENV"));
    let audience = audience_in_url(fetch);

    let mut checks = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let run = runs[i];
        if !run.contains("edgepedia-check.sh") {
            continue;
        }
        assert!(i > token_step, "a check step runs before the token step");
        assert!(
            !run.contains("${{"),
            "check steps are plain shell (values come through env): {run}"
        );
        if !checks.is_empty() {
            // A failing check must not hide the others' results.
            let condition = step["if"].as_str().unwrap_or("");
            assert!(
                condition.contains("!cancelled()") || condition.contains("always()"),
                "step {:?} is skipped when an earlier check fails",
                step["name"]
            );
        }
        checks.push((
            step["name"].as_str().unwrap_or(run).to_owned(),
            run.to_owned(),
        ));
    }
    assert!(checks.len() >= 2, "{checks:?}");

    let mut env = BTreeMap::new();
    for scope in [&wf["env"], &job["env"]] {
        for (k, v) in scope.as_object().into_iter().flatten() {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            env.insert(k.clone(), v);
        }
    }
    assert!(
        !env.contains_key("TOKEN"),
        "TOKEN comes from the OIDC step, not env"
    );
    Workflow {
        env,
        checks,
        audience,
    }
}

/// The environment a GitHub run would give the check steps: the job's `env:`, with each
/// `${{ vars.* }}` expression (a repository variable) resolved by `vars`, plus TOKEN as the
/// token step would have exported it.
fn github_env(
    wf: &Workflow,
    vars: &BTreeMap<&str, String>,
    token: &str,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = wf
        .env
        .iter()
        .map(|(k, v)| {
            let v = if v.contains("${{") {
                vars.get(k.as_str())
                    .unwrap_or_else(|| panic!("the test has no value for {k} = {v}"))
                    .clone()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    env.insert("TOKEN".into(), token.into());
    env
}

#[test]
fn the_github_actions_workflow_runs_its_checks_with_the_oidc_token() {
    let wf = github_workflow();
    assert_eq!(
        wf.audience,
        jwt_audience_default(),
        "the workflow asks for an audience the edge does not accept by default"
    );
    let server = edge_for(&GITHUB);
    let trusted = oidc_token(&GITHUB, &wf.audience, GITHUB.trusted_sub);
    let image = running_image();
    let expected = pods_running(&image);
    assert!(!expected.is_empty());
    assert!(pods_running(ABSENT_IMAGE).is_empty());

    // Passing: the retired image runs nowhere and every cluster was just pushed.
    let vars = BTreeMap::from([
        ("EDGE", server.base.clone()),
        ("RETIRED_IMAGE", ABSENT_IMAGE.to_owned()),
    ]);
    for (name, run) in &wf.checks {
        let out = run_snippet(run, &github_env(&wf, &vars, &trusted));
        assert_exit(&out, 0, name);
        assert!(out.stdout.is_empty(), "{name}");
    }

    // Failing: the "retired" image still runs. Its step fails (1) and names exactly the pods
    // the fixture has it in; the freshness step still passes.
    let vars = BTreeMap::from([
        ("EDGE", server.base.clone()),
        ("RETIRED_IMAGE", image.clone()),
    ]);
    let mut failed = 0;
    for (name, run) in &wf.checks {
        let out = run_snippet(run, &github_env(&wf, &vars, &trusted));
        if run.contains("image-absent") {
            assert_exit(&out, 1, name);
            assert_eq!(lines(&out), expected, "{name}");
            failed += 1;
        } else {
            assert_exit(&out, 0, name);
        }
    }
    assert_eq!(failed, 1, "one image-absent step");

    // A token from a repository outside the subject globs authenticates but gets no scope:
    // every check is an error (2), never a pass.
    let untrusted = oidc_token(&GITHUB, &wf.audience, GITHUB.untrusted_sub);
    for (name, run) in &wf.checks {
        let out = run_snippet(run, &github_env(&wf, &vars, &untrusted));
        assert_exit(&out, 2, name);
    }
}

/// The GitLab job, read: its script, environment and the ID token variable with its audience.
struct Job {
    script: String,
    variables: BTreeMap<String, String>,
    token_variable: String,
    audience: String,
}

fn gitlab_job() -> Job {
    let file = ci_file("gitlab-ci.yml");
    let jobs: Vec<&Value> = file
        .as_object()
        .unwrap()
        .values()
        .filter(|j| j.get("script").is_some())
        .collect();
    assert_eq!(jobs.len(), 1, "one job");
    let job = jobs[0];

    // The token comes from GitLab's `id_tokens:` with an audience.
    let id_tokens = job["id_tokens"].as_object().expect("id_tokens:");
    assert_eq!(id_tokens.len(), 1, "one ID token");
    let (token_variable, spec) = id_tokens.iter().next().unwrap();
    let audience = spec["aud"].as_str().expect("id_tokens with aud").to_owned();

    let script: Vec<String> = job["script"]
        .as_array()
        .expect("script")
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    let checks = script
        .iter()
        .filter(|l| l.contains("edgepedia-check.sh"))
        .count();
    assert!(checks >= 2, "{script:?}");
    assert!(
        script
            .iter()
            .any(|l| l.contains(&format!("TOKEN=\"${token_variable}\""))),
        "the script hands ${token_variable} to the checks as TOKEN"
    );
    // before_script installs the tools into the job's image (Alpine, `apk`): not run here,
    // where sh, curl and jq are the machine's own.
    let before = job["before_script"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|x| x.as_str().unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    assert!(before.contains("curl") && before.contains("jq"), "{before}");

    let mut variables = BTreeMap::new();
    for (k, v) in job["variables"].as_object().into_iter().flatten() {
        let v = v.as_str().expect("variable values are strings").to_owned();
        assert!(
            !v.contains('$'),
            "{k}: expansions in variables are not modelled here"
        );
        variables.insert(k.clone(), v);
    }
    Job {
        script: script.join("\n"),
        variables,
        token_variable: token_variable.clone(),
        audience,
    }
}

/// The environment GitLab would give the script: the job's `variables:`, the ID token, and
/// each project CI/CD variable the script reads (resolved by `project`).
fn gitlab_env(
    job: &Job,
    project: &BTreeMap<&str, String>,
    token: &str,
) -> BTreeMap<String, String> {
    let mut env = job.variables.clone();
    env.insert(job.token_variable.clone(), token.into());
    let set_by_script: BTreeSet<String> = ["EDGE", "TOKEN"].map(String::from).into();
    for name in shell_variables(&job.script) {
        if env.contains_key(&name) || set_by_script.contains(&name) {
            continue;
        }
        let value = project
            .get(name.as_str())
            .unwrap_or_else(|| panic!("the test has no value for CI/CD variable {name}"));
        env.insert(name, value.clone());
    }
    env
}

#[test]
fn the_gitlab_job_runs_its_checks_with_the_id_token() {
    let job = gitlab_job();
    assert_eq!(
        job.audience,
        jwt_audience_default(),
        "the job asks for an audience the edge does not accept by default"
    );
    let server = edge_for(&GITLAB);
    let trusted = oidc_token(&GITLAB, &job.audience, GITLAB.trusted_sub);
    let image = running_image();
    let expected = pods_running(&image);
    assert!(!expected.is_empty());

    // Passing: every line succeeds, nothing printed.
    let project = BTreeMap::from([
        ("EDGEPEDIA_URL", server.base.clone()),
        ("RETIRED_IMAGE", ABSENT_IMAGE.to_owned()),
    ]);
    let out = run_snippet(&job.script, &gitlab_env(&job, &project, &trusted));
    assert_exit(&out, 0, "script, passing");
    assert!(out.stdout.is_empty());

    // Failing: the image still runs. The job stops at that line with 1, naming exactly the
    // pods the fixture has it in.
    let project = BTreeMap::from([
        ("EDGEPEDIA_URL", server.base.clone()),
        ("RETIRED_IMAGE", image.clone()),
    ]);
    let out = run_snippet(&job.script, &gitlab_env(&job, &project, &trusted));
    assert_exit(&out, 1, "script, image still running");
    assert_eq!(lines(&out), expected);

    // A branch outside the subject globs gets no scope: an error (2), not a pass.
    let untrusted = oidc_token(&GITLAB, &job.audience, GITLAB.untrusted_sub);
    let out = run_snippet(&job.script, &gitlab_env(&job, &project, &untrusted));
    assert_exit(&out, 2, "script, untrusted branch");
}
