//! `routes/*.yaml`: the routing tree. One file may hold the root (`route:`); every file may add
//! top-level routes (`routes:`), appended in file-name order.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use super::ConfigError;
use super::source::{SourceFile, yaml_files};
use crate::core::policy::Policies;
use crate::routing::matcher::{Matcher, parse_matchers};
use crate::routing::suppress::{InhibitRule, MaintenanceWindow, Suppressions};
use crate::routing::time_interval::{
    NamedInterval, Range, TimeInterval, parse_days_of_month, parse_months, parse_time,
    parse_weekdays, parse_years,
};
use crate::routing::tree::{GroupBy, Route};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RoutesFile {
    /// The root of the routing tree (in one file only).
    route: Option<RawRoute>,
    /// Top-level routes, appended under the root in file-name order.
    routes: Vec<RawRoute>,
    /// Named time intervals, in Alertmanager's syntax, for `mute_time_intervals` and
    /// `active_time_intervals`.
    time_intervals: Vec<RawNamedInterval>,
    /// Alertmanager's inhibition: an alert matching `target_matchers` pages no one while one
    /// matching `source_matchers` fires with the same `equal` labels.
    inhibit_rules: Vec<RawInhibitRule>,
    /// One-off windows during which matching alerts page no one.
    maintenance: Vec<RawMaintenance>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawNamedInterval {
    /// Referred to by routes.
    name: String,
    /// When it holds: any of these.
    time_intervals: Vec<RawInterval>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct RawInterval {
    /// Times of day (`HH:MM`).
    times: Vec<RawTimes>,
    /// `monday`, or ranges such as `monday:friday`.
    weekdays: Vec<String>,
    /// `1`, `-1` (the last), or ranges such as `1:5`.
    days_of_month: Vec<String>,
    /// `january` or `1`, or ranges.
    months: Vec<String>,
    /// `2026`, or ranges.
    years: Vec<String>,
    /// The time zone the times are in. Default UTC.
    location: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawTimes {
    /// `HH:MM`.
    start_time: String,
    /// `HH:MM`, after `start_time`.
    end_time: String,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct RawInhibitRule {
    /// Alerts that inhibit.
    source_matchers: Vec<String>,
    /// Alerts that are inhibited.
    target_matchers: Vec<String>,
    /// Labels whose values both must share.
    equal: Vec<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawMaintenance {
    /// Shown in the incident's timeline.
    name: String,
    /// RFC 3339.
    start: String,
    /// RFC 3339, after `start`.
    end: String,
    /// Which alerts it holds (Alertmanager matchers).
    matchers: Vec<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct RawRoute {
    /// Part of the incident key: keep it stable. Unique across files.
    name: Option<String>,
    /// Alertmanager matchers; all must match. None: every alert.
    matchers: Vec<String>,
    /// Also try the next sibling routes after this one matched.
    #[serde(rename = "continue")]
    continue_matching: bool,
    /// Labels that make one incident. Default: the parent's, and at the root Alertmanager's
    /// `groupKey`; `['...']`: one incident per alert.
    group_by: Option<Vec<String>>,
    /// The escalation policy; inherited by child routes that name none.
    policy: Option<String>,
    /// The language of this route's reports (`en` or `zh-CN`).
    report_locale: Option<String>,
    /// Named intervals during which the route pages no one.
    mute_time_intervals: Vec<String>,
    /// Named intervals outside which the route pages no one.
    active_time_intervals: Vec<String>,
    /// Child routes, tried in order.
    routes: Vec<RawRoute>,
}

/// Loads the tree and what can suppress paging from `dir`, checking matchers, names, time
/// intervals and policy references.
pub fn load_routes(dir: &Path, policies: &Policies) -> Result<(Route, Suppressions), ConfigError> {
    let mut sources = Vec::new();
    for path in yaml_files(dir)? {
        let src = SourceFile::read(&path)?;
        let file: RoutesFile = src.parse()?;
        sources.push((src, file));
    }
    let mut suppressions = Suppressions::default();
    for (src, file) in &sources {
        suppressions_of(src, file, &mut suppressions)?;
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
            intervals: &suppressions.intervals,
            names: &mut names,
        };
        root = builder.route(raw, "route", "root".into(), &Route::default_root())?;
        root_from = Some(src);
    }
    for (src, file) in &sources {
        let mut builder = Builder {
            src,
            policies,
            intervals: &suppressions.intervals,
            names: &mut names,
        };
        for (i, raw) in file.routes.iter().enumerate() {
            let id = format!("root/{}", root.routes.len());
            let child = builder.route(raw, &format!("routes[{i}]"), id, &root)?;
            root.routes.push(child);
        }
    }
    unreachable_routes(&root)?;
    Ok((root, suppressions))
}

fn matchers(src: &SourceFile, key: &str, texts: &[String]) -> Result<Vec<Matcher>, ConfigError> {
    let mut out = Vec::new();
    for (j, text) in texts.iter().enumerate() {
        out.extend(parse_matchers(text).map_err(|e| src.error(format!("{key}[{j}]"), text, e))?);
    }
    Ok(out)
}

fn suppressions_of(
    src: &SourceFile,
    file: &RoutesFile,
    out: &mut Suppressions,
) -> Result<(), ConfigError> {
    for (i, raw) in file.time_intervals.iter().enumerate() {
        let key = format!("time_intervals[{i}]");
        if raw.name.is_empty() || out.intervals.contains_key(&raw.name) {
            return Err(src.error(
                format!("{key}.name"),
                &raw.name,
                format!("missing or duplicate name {:?}", raw.name),
            ));
        }
        let mut intervals = Vec::new();
        for (j, ti) in raw.time_intervals.iter().enumerate() {
            let k = format!("{key}.time_intervals[{j}]");
            let list =
                |field: &str, values: &[String], parse: fn(&str) -> Result<Range, String>| {
                    values
                        .iter()
                        .map(|v| parse(v).map_err(|e| src.error(format!("{k}.{field}"), v, e)))
                        .collect::<Result<Vec<_>, _>>()
                };
            let mut times = Vec::new();
            for t in &ti.times {
                let start = parse_time(&t.start_time)
                    .map_err(|e| src.error(format!("{k}.times"), &t.start_time, e))?;
                let end = parse_time(&t.end_time)
                    .map_err(|e| src.error(format!("{k}.times"), &t.end_time, e))?;
                if end <= start {
                    return Err(src.error(
                        format!("{k}.times"),
                        &t.end_time,
                        "end_time must be after start_time",
                    ));
                }
                times.push((start, end));
            }
            let location = match &ti.location {
                None => chrono_tz::UTC,
                Some(l) => l.parse().map_err(|_| {
                    src.error(
                        format!("{k}.location"),
                        l,
                        format!("{l:?} is not an IANA time zone"),
                    )
                })?,
            };
            intervals.push(TimeInterval {
                times,
                weekdays: list("weekdays", &ti.weekdays, parse_weekdays)?,
                days_of_month: list("days_of_month", &ti.days_of_month, parse_days_of_month)?,
                months: list("months", &ti.months, parse_months)?,
                years: list("years", &ti.years, parse_years)?,
                location,
            });
        }
        out.intervals.insert(
            raw.name.clone(),
            NamedInterval {
                name: raw.name.clone(),
                intervals,
            },
        );
    }
    for (i, raw) in file.inhibit_rules.iter().enumerate() {
        let key = format!("inhibit_rules[{i}]");
        let source = matchers(src, &format!("{key}.source_matchers"), &raw.source_matchers)?;
        let target = matchers(src, &format!("{key}.target_matchers"), &raw.target_matchers)?;
        if source.is_empty() || target.is_empty() {
            return Err(src.error(
                key,
                "inhibit_rules",
                "needs source_matchers and target_matchers",
            ));
        }
        out.inhibit_rules.push(InhibitRule {
            source,
            target,
            equal: raw.equal.clone(),
        });
    }
    for (i, raw) in file.maintenance.iter().enumerate() {
        let key = format!("maintenance[{i}]");
        let (start, end) = src.window(&key, &raw.start, &raw.end)?;
        let matchers = matchers(src, &format!("{key}.matchers"), &raw.matchers)?;
        if matchers.is_empty() {
            return Err(src.error(
                format!("{key}.matchers"),
                &raw.name,
                "a maintenance window needs matchers",
            ));
        }
        out.maintenance.push(MaintenanceWindow {
            name: raw.name.clone(),
            start,
            end,
            matchers,
        });
    }
    Ok(())
}

struct Builder<'a> {
    src: &'a SourceFile,
    policies: &'a Policies,
    intervals: &'a BTreeMap<String, NamedInterval>,
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
        let report_locale = match &raw.report_locale {
            None => parent.report_locale,
            Some(l) => Some(
                l.parse()
                    .map_err(|e: String| src.error(format!("{key}.report_locale"), l, e))?,
            ),
        };
        for name in raw
            .mute_time_intervals
            .iter()
            .chain(&raw.active_time_intervals)
        {
            if !self.intervals.contains_key(name) {
                return Err(src.error(
                    format!("{key}.mute_time_intervals"),
                    name,
                    format!("unknown time interval {name:?}"),
                ));
            }
        }
        let mut route = Route {
            id: id.clone(),
            matchers,
            continue_matching: raw.continue_matching,
            group_by,
            policy,
            report_locale,
            mute_time_intervals: raw.mute_time_intervals.clone(),
            active_time_intervals: raw.active_time_intervals.clone(),
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
