//! `routes/*.yaml`: the routing tree. One file may hold the root (`route:`); every file may add
//! top-level routes (`routes:`), appended in file-name order.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use super::ConfigError;
use super::source::{SourceFile, yaml_files};
use crate::core::policy::Policies;
use crate::routing::matcher::parse_matchers;
use crate::routing::tree::{GroupBy, Route};

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RoutesFile {
    route: Option<RawRoute>,
    routes: Vec<RawRoute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRoute {
    name: Option<String>,
    matchers: Vec<String>,
    #[serde(rename = "continue")]
    continue_matching: bool,
    group_by: Option<Vec<String>>,
    policy: Option<String>,
    routes: Vec<RawRoute>,
}

/// Loads the tree from `dir`, checking matchers, names and policy references.
pub fn load_routes(dir: &Path, policies: &Policies) -> Result<Route, ConfigError> {
    let mut sources = Vec::new();
    for path in yaml_files(dir)? {
        let src = SourceFile::read(&path)?;
        let file: RoutesFile = src.parse()?;
        sources.push((src, file));
    }
    let mut names = HashSet::new();
    // The root first, wherever it is, so every route inherits from it.
    let mut root = Route::default_root();
    let mut root_from: Option<&SourceFile> = None;
    for (src, file) in &sources {
        let Some(raw) = &file.route else { continue };
        if let Some(other) = root_from {
            return Err(src.error(
                "route",
                "route:",
                format!(
                    "the root route is already defined in {}",
                    other.path.display()
                ),
            ));
        }
        if !raw.matchers.is_empty() {
            return Err(src.error(
                "route.matchers",
                "matchers",
                "the root route takes no matchers",
            ));
        }
        let mut builder = Builder {
            src,
            policies,
            names: &mut names,
        };
        root = builder.route(raw, "route", "root".into(), &Route::default_root())?;
        root_from = Some(src);
    }
    for (src, file) in &sources {
        let mut builder = Builder {
            src,
            policies,
            names: &mut names,
        };
        for (i, raw) in file.routes.iter().enumerate() {
            let id = format!("root/{}", root.routes.len());
            let child = builder.route(raw, &format!("routes[{i}]"), id, &root)?;
            root.routes.push(child);
        }
    }
    unreachable_routes(&root)?;
    Ok(root)
}

struct Builder<'a> {
    src: &'a SourceFile,
    policies: &'a Policies,
    names: &'a mut HashSet<String>,
}

impl Builder<'_> {
    fn route(
        &mut self,
        raw: &RawRoute,
        key: &str,
        id: String,
        parent: &Route,
    ) -> Result<Route, ConfigError> {
        let src = self.src;
        let id = match &raw.name {
            Some(name) => {
                if name.is_empty() || name.contains('/') {
                    return Err(src.error(
                        format!("{key}.name"),
                        name,
                        "a route name is non-empty and has no '/'",
                    ));
                }
                if !self.names.insert(name.clone()) {
                    return Err(src.error(
                        format!("{key}.name"),
                        name,
                        format!("duplicate route name {name:?}"),
                    ));
                }
                name.clone()
            }
            None => id,
        };
        let mut matchers = Vec::new();
        for (j, text) in raw.matchers.iter().enumerate() {
            let parsed = parse_matchers(text)
                .map_err(|e| src.error(format!("{key}.matchers[{j}]"), text, e))?;
            matchers.extend(parsed);
        }
        let group_by = match &raw.group_by {
            None => parent.group_by.clone(),
            Some(labels) if labels.iter().any(|l| l == "...") => {
                if labels.len() > 1 {
                    return Err(src.error(
                        format!("{key}.group_by"),
                        "...",
                        "'...' groups by every label and stands alone",
                    ));
                }
                GroupBy::Each
            }
            Some(labels) if labels.is_empty() => GroupBy::GroupKey,
            Some(labels) => {
                for l in labels {
                    let ok = l.chars().enumerate().all(|(i, c)| {
                        c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
                    });
                    if !ok || l.is_empty() {
                        return Err(src.error(
                            format!("{key}.group_by"),
                            l,
                            format!("{l:?} is not a label name"),
                        ));
                    }
                }
                GroupBy::Labels(labels.clone())
            }
        };
        let policy = match &raw.policy {
            None => parent.policy.clone(),
            Some(p) if self.policies.policies.contains_key(p) => Some(p.clone()),
            Some(p) => {
                return Err(src.error(
                    format!("{key}.policy"),
                    p,
                    format!("unknown escalation policy {p:?}"),
                ));
            }
        };
        let mut route = Route {
            id: id.clone(),
            matchers,
            continue_matching: raw.continue_matching,
            group_by,
            policy,
            routes: Vec::new(),
        };
        for (j, child) in raw.routes.iter().enumerate() {
            let built = self.route(
                child,
                &format!("{key}.routes[{j}]"),
                format!("{id}/{j}"),
                &route,
            )?;
            route.routes.push(built);
        }
        Ok(route)
    }
}

/// A sibling after one that matches everything and does not `continue` can never match.
fn unreachable_routes(route: &Route) -> Result<(), ConfigError> {
    for (i, child) in route.routes.iter().enumerate() {
        let catch_all = child.matchers.is_empty() && !child.continue_matching;
        if let Some(shadowed) = route.routes.get(i + 1).filter(|_| catch_all) {
            return Err(ConfigError {
                origin: "routes".into(),
                key: shadowed.id.clone(),
                reason: format!(
                    "unreachable: route {:?} before it has no matchers and no `continue`, so it takes every alert",
                    child.id
                ),
            });
        }
        unreachable_routes(child)?;
    }
    Ok(())
}
