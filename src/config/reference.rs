//! The configuration reference, generated from the file shapes themselves: each field's doc
//! comment is its meaning, so the reference cannot name a key the loader does not read or miss
//! one it does. `alertrouter config-schema` prints the JSON Schema (for editors);
//! docs/configuration.md is the Markdown rendering, and a test fails when it drifts.

use serde_json::Value;

/// The configuration files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConfigFile {
    /// `alertrouter.yaml`.
    Alertrouter,
    /// `routes/*.yaml`.
    Routes,
    /// `policies/*.yaml`.
    Policies,
}

impl ConfigFile {
    pub const ALL: [ConfigFile; 3] = [
        ConfigFile::Alertrouter,
        ConfigFile::Routes,
        ConfigFile::Policies,
    ];

    fn title(self) -> &'static str {
        match self {
            ConfigFile::Alertrouter => "alertrouter.yaml",
            ConfigFile::Routes => "routes/*.yaml",
            ConfigFile::Policies => "policies/*.yaml",
        }
    }

    /// The JSON Schema of the file.
    pub fn schema(self) -> Value {
        let schema = match self {
            ConfigFile::Alertrouter => schemars::schema_for!(super::file::FileConfig),
            ConfigFile::Routes => schemars::schema_for!(super::routes::RoutesFile),
            ConfigFile::Policies => schemars::schema_for!(super::policies_file::PoliciesFile),
        };
        let mut value = schema.to_value();
        value["title"] = Value::String(self.title().into());
        value
    }
}

/// One key of the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// `channels.slack.bot_token`, `integrations[].name`, `channels.rate_limits.<channel>`.
    pub path: String,
    pub kind: String,
    pub required: bool,
    pub meaning: String,
}

/// Every key of `file`, in the order of the document (sections before their keys).
pub fn keys(file: ConfigFile) -> Vec<Key> {
    let schema = file.schema();
    let mut out = Vec::new();
    walk(&schema, &schema, "", &mut Vec::new(), &mut out);
    out
}

/// Follows `$ref` and drops the `null` of an `Option`.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    if let Some(name) = node["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        return resolve(root, &root["$defs"][name]);
    }
    if let Some(any) = node["anyOf"].as_array() {
        let some: Vec<&Value> = any.iter().filter(|v| v["type"] != "null").collect();
        if some.len() == 1 {
            return resolve(root, some[0]);
        }
    }
    node
}

/// The `$defs` name a node refers to, through an `Option` or a list.
fn def_name(node: &Value) -> Option<&str> {
    if let Some(name) = node["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        return Some(name);
    }
    if let Some(any) = node["anyOf"].as_array() {
        return any.iter().find_map(def_name);
    }
    node.get("items").and_then(def_name)
}

/// Walks `node`'s keys under `prefix`; `within` names the shapes being walked (a route holds
/// routes: a shape met again is named, not walked again).
fn walk(root: &Value, node: &Value, prefix: &str, within: &mut Vec<String>, out: &mut Vec<Key>) {
    let node = resolve(root, node);
    let Some(properties) = node["properties"].as_object() else {
        return;
    };
    let required: Vec<&str> = node["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, field) in properties {
        let path = format!("{prefix}{name}");
        let target = resolve(root, field);
        // A shape's own comment that only names its key (`server:`) says nothing here.
        let meaning = field["description"]
            .as_str()
            .or_else(|| {
                target["description"]
                    .as_str()
                    .filter(|d| !d.starts_with('`'))
            })
            .unwrap_or_default();
        let shape = def_name(field).map(str::to_string);
        let again = shape.as_ref().is_some_and(|s| within.contains(s));
        let mut meaning = meaning.split_whitespace().collect::<Vec<_>>().join(" ");
        if again {
            meaning.push_str(" (nested: the same keys again)");
        }
        out.push(Key {
            path: path.clone(),
            kind: kind(root, field),
            required: required.contains(&name.as_str()),
            meaning,
        });
        if again {
            continue;
        }
        within.extend(shape.clone());
        if target["properties"].is_object() {
            walk(root, target, &format!("{path}."), within, out);
        } else if target["type"] == "array" {
            walk(root, &target["items"], &format!("{path}[]."), within, out);
        } else if target["additionalProperties"].is_object() {
            let entry = if name == "rate_limits" {
                "channel"
            } else {
                "name"
            };
            let inner = format!("{path}.<{entry}>.");
            walk(root, &target["additionalProperties"], &inner, within, out);
        }
        if shape.is_some() {
            within.pop();
        }
    }
}

fn kind(root: &Value, node: &Value) -> String {
    let node = resolve(root, node);
    if let Some(any) = node["anyOf"].as_array() {
        let kinds: Vec<String> = any
            .iter()
            .filter(|v| v["type"] != "null")
            .map(|v| kind(root, v))
            .collect();
        return kinds.join(" or ");
    }
    let types: Vec<&str> = match &node["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let simple = types.into_iter().find(|t| *t != "null").unwrap_or("any");
    match simple {
        "array" => format!("list of {}", kind(root, &node["items"])),
        "object" if node["additionalProperties"].is_object() => {
            format!("map of {}", kind(root, &node["additionalProperties"]))
        }
        "object" => "section".into(),
        other => other.into(),
    }
}

/// The reference as Markdown: one table per file.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated from the code by `alertrouter config-reference` (do not edit: a test fails\n\
         when this file and the code differ; `UPDATE_GOLDEN=1 scripts/test.sh config_reference`\n\
         rewrites it). `alertrouter config-schema FILE` prints the same as JSON Schema, for\n\
         editors (`# yaml-language-server: $schema=…`).\n\n\
         Defaults, then the file, then environment variables. Durations look like `500ms`, `30s`,\n\
         `5m`, `1h30m`; sizes like `2MiB` or a number of bytes. Any string may use `${VAR}`\n\
         references. A key not listed here is an error, reported with its file and line. Secret\n\
         files (`…_file`) are read relative to the config file and trimmed.\n",
    );
    for file in ConfigFile::ALL {
        let schema = file.schema();
        out.push_str(&format!("\n## {}\n\n", file.title()));
        if let Some(about) = schema["description"]
            .as_str()
            .filter(|d| !d.starts_with('`'))
        {
            out.push_str(&format!("{}\n\n", about.replace('\n', " ")));
        }
        out.push_str("| key | type | meaning |\n|---|---|---|\n");
        for key in keys(file) {
            let kind = if key.required {
                format!("{}, required", key.kind)
            } else {
                key.kind
            };
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                key.path,
                kind,
                key.meaning.replace('|', "\\|")
            ));
        }
    }
    out
}
