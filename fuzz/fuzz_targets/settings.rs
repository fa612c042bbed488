//! The settings parser (`validate_settings`, `Policy::from_settings`, the
//! policy cache): valid settings evaluate a sample bundle, through every
//! entry, to the same report; invalid ones are an error naming a key.
#![no_main]

use portcullis::{evaluate, evaluate_with, validate_settings, Error, Host, PolicyCache};
use serde_json::value::RawValue;
use serde_json::{json, Value};

static CACHE: PolicyCache = PolicyCache::new();

/// One object for most rule families: something for the settings to change.
fn sample() -> Value {
    json!([
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop",
          "labels": {"app": "web"}},
         "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                  "ports": [{"port": 80, "nodePort": 30080}], "externalIPs": ["203.0.113.7"]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": "web", "namespace": "shop",
                      "annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": "false"}},
         "spec": {"rules": [{"host": "*.example.com", "http": {"paths": [{"path": "/",
                   "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "agent", "namespace": "kube-system"},
         "spec": {"template": {"spec": {"hostNetwork": true, "containers": [{"name": "a", "image": "agent",
                   "ports": [{"containerPort": 9100, "hostPort": 9100}]}]}}}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "all"},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "old", "namespace": "shop"},
         "spec": {"backend": {"serviceName": "web", "servicePort": 80}}}
    ])
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(settings) = portcullis::parse_json(data) else {
        return;
    };
    let input = sample();
    let host = Host {
        settings: Some(&settings),
        inventory: None,
    };
    match validate_settings(&settings) {
        Ok(policy) => {
            let report = match evaluate(&input, host) {
                Ok(r) => r,
                Err(e) => panic!("valid settings, yet the evaluation fails: {e}"),
            };
            let answer = report.to_value();
            portcullis_fuzz::check_shape(&answer);
            let with = match evaluate_with(&input, &policy, None) {
                Ok(r) => r.to_value(),
                Err(e) => panic!("evaluate_with fails on valid settings: {e}"),
            };
            assert_eq!(answer, with, "evaluate and evaluate_with disagree");
            let cached = match CACHE.compile(Some(&settings)) {
                Ok(p) => p,
                Err(e) => panic!("the cache refuses valid settings: {e}"),
            };
            let through_cache = evaluate_with(&input, &cached, None).map(|r| r.to_value());
            assert_eq!(
                through_cache.ok().as_ref(),
                Some(&answer),
                "the cached policy differs"
            );
            // by their text, twice: compiled, then found by their bytes
            if let Ok(raw) = serde_json::from_slice::<Box<RawValue>>(data) {
                for _ in 0..2 {
                    let by_text = match CACHE.compile_text(Some(&raw)) {
                        Ok(p) => p,
                        Err(e) => panic!("the cache refuses valid settings as text: {e}"),
                    };
                    let got = evaluate_with(&input, &by_text, None).map(|r| r.to_value());
                    assert_eq!(
                        got.ok().as_ref(),
                        Some(&answer),
                        "the policy found by text differs"
                    );
                }
            }
            portcullis_fuzz::check_findings(&input, host, &report.to_value());
        }
        Err(Error::Settings { key, message }) => {
            assert!(!message.is_empty(), "a settings error without a message");
            // the key is where the mistake is: a member the settings have
            // (keys may hold dots themselves), or the whole settings when
            // they are not an object
            let names_a_member = |m: &serde_json::Map<String, Value>| {
                m.is_empty()
                    || key == "settings"
                    || m.keys().any(|k| {
                        key == *k
                            || key
                                .strip_prefix(k.as_str())
                                .is_some_and(|rest| rest.starts_with(['.', '[']))
                    })
            };
            assert!(
                settings.as_object().is_none_or(names_a_member),
                "the error names `{key}`, which the settings do not have: {message}"
            );
            match evaluate(&input, host) {
                Err(Error::Settings { key: k, .. }) => {
                    assert_eq!(k, key, "evaluate names another key than validate_settings")
                }
                other => panic!("invalid settings, yet evaluate gives {other:?}"),
            }
            assert!(CACHE.compile(Some(&settings)).is_err());
            if let Ok(raw) = serde_json::from_slice::<Box<RawValue>>(data) {
                for _ in 0..2 {
                    match CACHE.compile_text(Some(&raw)) {
                        Err(Error::Settings { key: k, .. }) => assert_eq!(k, key),
                        other => panic!("invalid settings as text give {other:?}"),
                    }
                }
            }
        }
        Err(other) => panic!("a settings error that names no key: {other}"),
    }
});
