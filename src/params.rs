//! Typed reading of one rule's parameters, with errors that name the key.

use crate::error::{did_you_mean, Error};
use crate::net::Cidr;
use crate::object::type_name;
use serde_json::{Map, Value};

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub min: u16,
    pub max: u16,
}

impl PortRange {
    pub fn contains(&self, port: i64) -> bool {
        i64::from(self.min) <= port && port <= i64::from(self.max)
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

/// The parameters given to one rule. Each getter consumes its key; `finish`
/// rejects what is left.
pub struct Params<'a> {
    prefix: String,
    map: Map<String, Value>,
    known: Vec<&'static str>,
    _life: std::marker::PhantomData<&'a ()>,
}

impl<'a> Params<'a> {
    /// `prefix` is the settings path of the rule's entry, e.g. `rules.service-external-ips`.
    pub fn new(prefix: impl Into<String>, map: Map<String, Value>) -> Params<'a> {
        Params {
            prefix: prefix.into(),
            map,
            known: Vec::new(),
            _life: std::marker::PhantomData,
        }
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}.{}", self.prefix, name)
    }

    fn err(&self, name: &str, message: impl Into<String>) -> Error {
        Error::settings(self.key(name), message)
    }

    fn take(&mut self, name: &'static str) -> Option<Value> {
        self.known.push(name);
        self.map.remove(name).filter(|v| !v.is_null())
    }

    pub fn bool(&mut self, name: &'static str, default: bool) -> Result<bool, Error> {
        match self.take(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(b),
            Some(other) => Err(self.err(
                name,
                format!("expected true or false, found {}", type_name(&other)),
            )),
        }
    }

    pub fn string(&mut self, name: &'static str) -> Result<Option<String>, Error> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(
                name,
                format!("expected a string, found {}", type_name(&other)),
            )),
        }
    }

    pub fn strings(&mut self, name: &'static str) -> Result<Vec<String>, Error> {
        match self.take(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s),
                    other => Err(self.err(
                        &format!("{name}[{i}]"),
                        format!("expected a string, found {}", type_name(&other)),
                    )),
                })
                .collect(),
            Some(other) => Err(self.err(
                name,
                format!("expected a list of strings, found {}", type_name(&other)),
            )),
        }
    }

    /// A list of strings, `default` when the key is absent (an empty list
    /// given on purpose stays empty).
    pub fn strings_or(
        &mut self,
        name: &'static str,
        default: &[&str],
    ) -> Result<Vec<String>, Error> {
        if self.map.get(name).is_none_or(Value::is_null) {
            self.known.push(name);
            self.map.remove(name);
            return Ok(default.iter().map(|s| s.to_string()).collect());
        }
        self.strings(name)
    }

    pub fn cidrs(&mut self, name: &'static str) -> Result<Vec<Cidr>, Error> {
        let list = self.strings(name)?;
        list.iter()
            .enumerate()
            .map(|(i, s)| Cidr::parse(s).map_err(|m| self.err(&format!("{name}[{i}]"), m)))
            .collect()
    }

    pub fn u32(&mut self, name: &'static str, default: u32) -> Result<u32, Error> {
        match self.take(name) {
            None => Ok(default),
            Some(Value::Number(n)) => {
                n.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        self.err(name, format!("expected a non-negative integer, found {n}"))
                    })
            }
            Some(other) => Err(self.err(
                name,
                format!("expected an integer, found {}", type_name(&other)),
            )),
        }
    }

    /// Port ranges as `[{min, max}]`, `[80, "8000-8100"]`; non-overlapping.
    pub fn port_ranges(&mut self, name: &'static str) -> Result<Vec<PortRange>, Error> {
        let items = match self.take(name) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(self.err(
                    name,
                    format!(
                        "expected a list of port ranges, found {}",
                        type_name(&other)
                    ),
                ))
            }
        };
        let mut ranges: Vec<(usize, PortRange)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = format!("{name}[{i}]");
            let port = |v: Option<&Value>, what: &str| -> Result<u16, Error> {
                match v {
                    Some(Value::Number(n)) => n
                        .as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| {
                            self.err(
                                &format!("{key}.{what}"),
                                format!("{n} is not a port (0-65535)"),
                            )
                        }),
                    Some(other) => Err(self.err(
                        &format!("{key}.{what}"),
                        format!("expected a port number, found {}", type_name(other)),
                    )),
                    None => Err(self.err(&key, format!("missing `{what}`"))),
                }
            };
            let range = match item {
                Value::Object(m) => {
                    if let Some(extra) = m.keys().find(|k| *k != "min" && *k != "max") {
                        return Err(self.err(
                            &format!("{key}.{extra}"),
                            "unknown key (a range has `min` and `max`)",
                        ));
                    }
                    PortRange {
                        min: port(m.get("min"), "min")?,
                        max: port(m.get("max"), "max")?,
                    }
                }
                Value::Number(_) => {
                    let p = port(Some(item), "port")?;
                    PortRange { min: p, max: p }
                }
                Value::String(s) => {
                    let parse = |t: &str| t.trim().parse::<u16>().ok();
                    let parsed = match s.split_once('-') {
                        Some((a, b)) => parse(a).zip(parse(b)),
                        None => parse(s).map(|p| (p, p)),
                    };
                    let (min, max) = parsed.ok_or_else(|| {
                        self.err(
                            &key,
                            format!("`{s}` is not a port or a range like 8000-8100"),
                        )
                    })?;
                    PortRange { min, max }
                }
                other => {
                    return Err(self.err(
                        &key,
                        format!("expected {{min, max}}, found {}", type_name(other)),
                    ));
                }
            };
            if range.min > range.max {
                return Err(self.err(
                    &key,
                    format!("min {} is above max {}", range.min, range.max),
                ));
            }
            if let Some((j, prev)) = ranges
                .iter()
                .find(|(_, r)| r.min <= range.max && range.min <= r.max)
            {
                return Err(self.err(&key, format!("range {range} overlaps {name}[{j}] ({prev})")));
            }
            ranges.push((i, range));
        }
        Ok(ranges.into_iter().map(|(_, r)| r).collect())
    }

    /// Rejects keys no getter asked for.
    pub fn finish(self) -> Result<(), Error> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => {
                let mut known = self.known.clone();
                known.push("action");
                let hint = did_you_mean(k, known.iter().copied());
                let accepted = if self.known.is_empty() {
                    "this rule takes no parameters besides `action`".to_string()
                } else {
                    format!("accepted: action, {}", self.known.join(", "))
                };
                Err(Error::settings(
                    format!("{}.{}", self.prefix, k),
                    format!("unknown parameter{hint}; {accepted}"),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Params<'static> {
        Params::new("rules.x", v.as_object().cloned().unwrap())
    }

    #[test]
    fn ranges_in_every_form_and_overlaps_refused() {
        let mut p = params(json!({"r": [{"min": 80, "max": 90}, 443, "8000-8100"]}));
        let r = p.port_ranges("r").unwrap();
        assert_eq!(r.len(), 3);
        assert!(r[2].contains(8050));
        let mut p = params(json!({"r": [{"min": 80, "max": 90}, 85]}));
        let e = p.port_ranges("r").unwrap_err();
        assert!(
            matches!(&e, Error::Settings { key, .. } if key == "rules.x.r[1]"),
            "{e}"
        );
        let mut p = params(json!({"r": [{"min": 90, "max": 80}]}));
        assert!(p.port_ranges("r").is_err());
    }

    #[test]
    fn unknown_keys_are_named() {
        let mut p = params(json!({"allowInternl": false}));
        assert!(p.bool("allowInternal", true).unwrap());
        let e = p.finish().unwrap_err();
        assert_eq!(
            e.to_string(),
            "settings: rules.x.allowInternl: unknown parameter (did you mean `allowInternal`?); accepted: action, allowInternal"
        );
    }

    #[test]
    fn bad_cidr_names_its_index() {
        let mut p = params(json!({"c": ["10.0.0.0/8", "nope"]}));
        let e = p.cidrs("c").unwrap_err();
        assert!(e.to_string().contains("rules.x.c[1]"));
    }
}
