//! The Rego twin (benches/rego/) under regorus, fed the same JSON bytes.

use anyhow::Result;
use regorus::{Engine, Value};

pub const POLICIES: &[(&str, &str)] = &[
    ("common.rego", include_str!("../rego/common.rego")),
    ("exposure.rego", include_str!("../rego/exposure.rego")),
    ("ingress.rego", include_str!("../rego/ingress.rego")),
];

/// The rule ids the twin implements.
pub const RULES: &[&str] = &[
    "service-type-loadbalancer",
    "service-type-nodeport",
    "service-external-ips",
    "workload-host-network",
    "workload-host-port",
    "ingress-tls-missing",
    "ingress-host-without-tls",
    "ingress-auth-missing",
    "ingress-snippet-annotation",
    "ingress-host-wildcard",
];

pub struct Twin {
    engine: Engine,
}

impl Twin {
    pub fn load() -> Result<Twin> {
        let mut engine = Engine::new();
        for (name, text) in POLICIES {
            engine.add_policy(format!("benches/rego/{name}"), (*text).to_string())?;
        }
        Ok(Twin { engine })
    }

    /// Parses the input as OPA would and evaluates every violation; returns their count.
    pub fn evaluate(&mut self, json: &str) -> Result<usize> {
        self.engine.set_input(Value::from_json_str(json)?);
        let v = self
            .engine
            .eval_rule("data.portcullis.violation".to_string())?;
        Ok(match v {
            Value::Undefined => 0,
            v => v.as_set()?.len(),
        })
    }

    /// The violations, for checking that the twin agrees with the native rules.
    pub fn violations(&mut self, json: &str) -> Result<Vec<(String, usize)>> {
        self.engine.set_input(Value::from_json_str(json)?);
        let v = self
            .engine
            .eval_rule("data.portcullis.violation".to_string())?;
        let mut out = Vec::new();
        if let Value::Set(set) = v {
            for item in set.iter() {
                let rule = item["rule"].as_string()?.to_string();
                let index = item["index"].as_u64()? as usize;
                out.push((rule, index));
            }
        }
        out.sort();
        Ok(out)
    }
}
