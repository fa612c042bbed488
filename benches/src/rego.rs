//! The Rego twin (benches/rego/) under regorus, fed the same JSON bytes.

use anyhow::Result;
use regorus::{CompiledPolicy, Engine, Rc, Value};

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
    compiled: CompiledPolicy,
}

const ENTRYPOINT: &str = "data.portcullis.violation";

impl Twin {
    pub fn load() -> Result<Twin> {
        let mut engine = Engine::new();
        for (name, text) in POLICIES {
            engine.add_policy(format!("benches/rego/{name}"), (*text).to_string())?;
        }
        let compiled = engine.compile_with_entrypoint(&Rc::from(ENTRYPOINT))?;
        Ok(Twin { engine, compiled })
    }

    /// Parses the input as OPA would and evaluates every violation on the
    /// reused engine; returns their count.
    pub fn evaluate(&mut self, json: &str) -> Result<usize> {
        self.engine.set_input(Value::from_json_str(json)?);
        count(self.engine.eval_rule(ENTRYPOINT.to_string())?)
    }

    /// The evaluation alone, on an input regorus has already parsed.
    pub fn evaluate_value(&mut self, input: Value) -> Result<usize> {
        self.engine.set_input(input);
        count(self.engine.eval_rule(ENTRYPOINT.to_string())?)
    }

    /// The same through regorus's compiled-policy API.
    pub fn evaluate_compiled(&self, json: &str) -> Result<usize> {
        count(self.compiled.eval_with_input(Value::from_json_str(json)?)?)
    }
}

fn count(v: Value) -> Result<usize> {
    Ok(match v {
        Value::Undefined => 0,
        v => v.as_set()?.len(),
    })
}
