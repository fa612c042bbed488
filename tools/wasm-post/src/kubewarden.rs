//! `wasm-post kubewarden <module.wasm> <metadata.yml> [<out.wasm>]`: what
//! `kwctl annotate` does. Reads the policy metadata (YAML), fills in
//! `protocolVersion`, and stores it as JSON in the module's
//! `io.kubewarden.metadata` custom section, replacing any earlier one.
//! Without an output path the module is rewritten in place.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::Path;
use wasm_encoder::{CustomSection, Module, RawSection};
use wasmparser::{Parser, Payload};

pub const SECTION: &str = "io.kubewarden.metadata";

/// The waPC protocol the binding answers to `protocol_version`.
pub const PROTOCOL_VERSION: &str = "v1";

/// Keys a Kubewarden host needs in the metadata before it runs a policy.
const REQUIRED: &[&str] = &["rules", "mutating", "executionMode", "annotations"];

pub fn run(args: &[String]) -> Result<()> {
    let (input, metadata, output) = match args {
        [i, m] => (i, m, i),
        [i, m, o] => (i, m, o),
        _ => bail!("usage: wasm-post kubewarden <module.wasm> <metadata.yml> [<out.wasm>]"),
    };
    let module = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let json = metadata_json(Path::new(metadata))?;
    let annotated = annotate(&module, &json)?;
    std::fs::write(output, &annotated).with_context(|| format!("writing {output}"))?;
    println!(
        "{output}: {SECTION} ({} bytes of metadata, protocol {PROTOCOL_VERSION})",
        json.len()
    );
    Ok(())
}

/// The metadata file as the JSON the section holds.
pub fn metadata_json(path: &Path) -> Result<Vec<u8>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc = portcullis::yaml::load(&text)
        .into_iter()
        .next()
        .with_context(|| format!("{} is empty", path.display()))?;
    let mut value = doc
        .value
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let Value::Object(map) = &mut value else {
        bail!("{}: the metadata must be a mapping", path.display());
    };
    for key in REQUIRED {
        if !map.contains_key(*key) {
            bail!("{}: `{key}` is missing", path.display());
        }
    }
    if map.get("executionMode").and_then(Value::as_str) != Some("kubewarden-wapc") {
        bail!(
            "{}: executionMode must be kubewarden-wapc for this module",
            path.display()
        );
    }
    map.insert("protocolVersion".into(), Value::from(PROTOCOL_VERSION));
    Ok(serde_json::to_vec(&value)?)
}

/// The module with every section copied as it is, except an earlier
/// metadata section, and the new metadata appended.
pub fn annotate(module: &[u8], metadata: &[u8]) -> Result<Vec<u8>> {
    let mut out = Module::new();
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.context("the input is not a valid wasm module")?;
        if let Payload::CustomSection(reader) = &payload {
            if reader.name() == SECTION {
                continue;
            }
        }
        if let Payload::ModuleSection { .. } | Payload::ComponentSection { .. } = payload {
            bail!("components are not Kubewarden policies");
        }
        if let Some((id, range)) = payload.as_section() {
            let data = module
                .get(range)
                .context("a section lies outside the module")?;
            out.section(&RawSection { id, data });
        }
    }
    out.section(&CustomSection {
        name: SECTION.into(),
        data: metadata.into(),
    });
    Ok(out.finish())
}
