//! The Kubewarden binding's waPC entry natively (`dispatch_with`): the
//! operation, the payload, and a fake host whose context-aware calls answer
//! with the fuzzer's bytes. Input: an operation byte, a host byte, the
//! payload, a NUL, the host's answer.
#![no_main]

use portcullis_kubewarden::{dispatch_with, Cluster};
use serde_json::Value;

/// A host answering every call with the same bytes, or failing with them.
struct Fake<'a> {
    fails: bool,
    answer: &'a [u8],
    calls: usize,
}

impl Cluster for Fake<'_> {
    fn call(&mut self, _operation: &str, _payload: &[u8]) -> Result<Vec<u8>, String> {
        self.calls += 1;
        if self.fails {
            Err(String::from_utf8_lossy(self.answer).into_owned())
        } else {
            Ok(self.answer.to_vec())
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [op, host, rest @ ..] = data else {
        return;
    };
    let operation: &[u8] = match op % 4 {
        0 => b"validate",
        1 => b"validate_settings",
        2 => b"protocol_version",
        _ => b"validate_anything",
    };
    let cut = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    let (payload, answer) = rest.split_at(cut);
    let mut fake = Fake {
        fails: host % 2 == 1,
        answer: answer.get(1..).unwrap_or_default(),
        calls: 0,
    };
    let out = dispatch_with(operation, payload, &mut fake);
    let bytes = match (operation, out) {
        (b"validate_anything", Err(e)) => {
            assert!(e.contains("unknown operation"), "{e}");
            return;
        }
        (_, Ok(bytes)) => bytes,
        (op, Err(e)) => panic!("{} failed: {e}", String::from_utf8_lossy(op)),
    };
    let v: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => panic!("the answer is not JSON ({e})"),
    };
    match operation {
        b"validate" => {
            let Some(accepted) = v["accepted"].as_bool() else {
                panic!("validate answered without `accepted`: {v}")
            };
            if !accepted {
                assert!(
                    v["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "a rejection without a message: {v}"
                );
                if let Some(code) = v.get("code") {
                    assert!(
                        code.as_u64().is_some_and(|c| (400..600).contains(&c)),
                        "{v}"
                    );
                }
                assert!(
                    v.get("mutated_object").is_none(),
                    "a rejection mutates: {v}"
                );
            }
            if let Some(w) = v.get("warnings") {
                assert!(
                    w.as_array().is_some_and(|w| w.iter().all(Value::is_string)),
                    "{v}"
                );
            }
            // the same request to the same host: the same answer (the policy cache)
            let again = dispatch_with(operation, payload, &mut Fake { calls: 0, ..fake });
            assert_eq!(again.ok(), Some(bytes), "the second answer differs");
        }
        b"validate_settings" => {
            let Some(valid) = v["valid"].as_bool() else {
                panic!("validate_settings answered without `valid`: {v}")
            };
            assert_eq!(fake.calls, 0, "settings validation asked the cluster");
            assert_eq!(
                !valid,
                v["message"].as_str().is_some_and(|m| !m.is_empty()),
                "a settings answer's message says why it is invalid: {v}"
            );
        }
        _ => assert_eq!(v, "v1"),
    }
});
