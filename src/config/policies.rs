//! `policies/*.yaml`: people, teams, schedules, escalation policies and named destinations,
//! merged across files and checked for unknown references.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::policies_file::{PoliciesFile, RawPolicy, RawSchedule, RawUser};
use super::source::{SourceFile, yaml_files};
use super::{ConfigError, parse_duration};
use crate::core::policy::{
    Channel, EscalationPolicy, Layer, Override, Policies, Schedule, Step, Target, Team, User,
};

/// Loads and checks every file of `dir`.
pub fn load_policies(dir: &Path) -> Result<Policies, ConfigError> {
    let mut out = Policies::default();
    let mut sources = Vec::new();
    for path in yaml_files(dir)? {
        let src = SourceFile::read(&path)?;
        let file: PoliciesFile = src.parse()?;
        sources.push((src, file));
    }
    // Names first, from every file, so references may point across files.
    for (src, file) in &sources {
        add_names(&mut out, src, file)?;
    }
    for (src, file) in &sources {
        for (i, raw) in file.teams.iter().enumerate() {
            let key = format!("teams[{i}]");
            for m in &raw.members {
                known_user(&out, src, &format!("{key}.members"), m)?;
            }
        }
        for (i, raw) in file.schedules.iter().enumerate() {
            let schedule = schedule(&out, src, &format!("schedules[{i}]"), raw)?;
            out.schedules.insert(schedule.name.clone(), schedule);
        }
        for (i, raw) in file.escalation_policies.iter().enumerate() {
            let policy = policy(&out, src, &format!("escalation_policies[{i}]"), raw)?;
            out.policies.insert(policy.name.clone(), policy);
        }
    }
    Ok(out)
}

fn unique<T>(
    map: &BTreeMap<String, T>,
    src: &SourceFile,
    key: &str,
    name: &str,
) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if !valid {
        return Err(src.error(
            format!("{key}.name"),
            name,
            format!("{name:?}: use letters, digits, '-', '_', '.' and '@'"),
        ));
    }
    if map.contains_key(name) {
        return Err(src.error(
            format!("{key}.name"),
            name,
            format!("duplicate name {name:?}"),
        ));
    }
    Ok(())
}

fn add_names(out: &mut Policies, src: &SourceFile, file: &PoliciesFile) -> Result<(), ConfigError> {
    for (i, raw) in file.users.iter().enumerate() {
        let key = format!("users[{i}]");
        unique(&out.users, src, &key, &raw.name)?;
        let user = user(src, &key, raw)?;
        out.users.insert(user.name.clone(), user);
    }
    for (i, raw) in file.teams.iter().enumerate() {
        let key = format!("teams[{i}]");
        unique(&out.teams, src, &key, &raw.name)?;
        let time_zone = raw
            .time_zone
            .as_deref()
            .map(|tz| time_zone(src, &format!("{key}.time_zone"), tz))
            .transpose()?;
        out.teams.insert(
            raw.name.clone(),
            Team {
                name: raw.name.clone(),
                members: raw.members.clone(),
                time_zone,
            },
        );
    }
    for (i, raw) in file.schedules.iter().enumerate() {
        unique(&out.schedules, src, &format!("schedules[{i}]"), &raw.name)?;
        // A placeholder so policies in earlier files can name it; filled in later.
        out.schedules.insert(
            raw.name.clone(),
            Schedule {
                name: raw.name.clone(),
                time_zone: chrono_tz::UTC,
                layers: Vec::new(),
                overrides: Vec::new(),
            },
        );
    }
    for (i, raw) in file.escalation_policies.iter().enumerate() {
        unique(
            &out.policies,
            src,
            &format!("escalation_policies[{i}]"),
            &raw.name,
        )?;
        out.policies.insert(
            raw.name.clone(),
            EscalationPolicy {
                name: raw.name.clone(),
                steps: Vec::new(),
                repeat: 0,
                ack_timeout: None,
                response_target: None,
            },
        );
    }
    let d = &file.destinations;
    for (name, key) in &d.pagerduty_services {
        if !(key.starts_with("${") && key.ends_with('}')) {
            return Err(src.error(
                format!("destinations.pagerduty_services.{name}"),
                name,
                "give the routing key as an ${ENV} reference, never inline",
            ));
        }
    }
    for (name, url) in &d.webhooks {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(src.error(
                format!("destinations.webhooks.{name}"),
                name,
                format!("{url:?} is not an http(s) URL"),
            ));
        }
    }
    out.slack_channels.extend(d.slack_channels.clone());
    out.pagerduty_services.extend(d.pagerduty_services.clone());
    out.webhooks.extend(d.webhooks.clone());
    Ok(())
}

fn time_zone(src: &SourceFile, key: &str, tz: &str) -> Result<Tz, ConfigError> {
    tz.parse::<Tz>().map_err(|_| {
        src.error(
            key,
            tz,
            format!("{tz:?} is not an IANA time zone such as Europe/Berlin"),
        )
    })
}

fn user(src: &SourceFile, key: &str, raw: &RawUser) -> Result<User, ConfigError> {
    if let Some(phone) = &raw.phone {
        let digits = phone.strip_prefix('+').unwrap_or("");
        let e164 = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !e164 {
            return Err(src.error(
                format!("{key}.phone"),
                phone,
                format!("{phone:?} is not an E.164 number such as +4915112345678"),
            ));
        }
    }
    if let Some(email) = &raw.email {
        let ok = email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !email.contains(' '));
        if !ok {
            return Err(src.error(
                format!("{key}.email"),
                email,
                format!("{email:?} is not an e-mail address"),
            ));
        }
    }
    let time_zone = raw
        .time_zone
        .as_deref()
        .map(|tz| time_zone(src, &format!("{key}.time_zone"), tz))
        .transpose()?;
    let contact = raw
        .contact
        .iter()
        .map(|c| {
            c.parse::<Channel>()
                .map_err(|e| src.error(format!("{key}.contact"), c, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(User {
        name: raw.name.clone(),
        slack_id: raw.slack_id.clone(),
        email: raw.email.clone(),
        phone: raw.phone.clone(),
        time_zone,
        contact,
    })
}

fn known_user(out: &Policies, src: &SourceFile, key: &str, name: &str) -> Result<(), ConfigError> {
    if out.users.contains_key(name) {
        Ok(())
    } else {
        Err(src.error(key, name, format!("unknown user {name:?}")))
    }
}

fn duration(src: &SourceFile, key: &str, text: &str) -> Result<std::time::Duration, ConfigError> {
    if text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    parse_duration(text).map_err(|e| src.error(key, text, e))
}

fn schedule(
    out: &Policies,
    src: &SourceFile,
    key: &str,
    raw: &RawSchedule,
) -> Result<Schedule, ConfigError> {
    let tz = time_zone(src, &format!("{key}.time_zone"), &raw.time_zone)?;
    if raw.layers.is_empty() {
        return Err(src.error(
            format!("{key}.layers"),
            &raw.name,
            "a schedule needs at least one layer",
        ));
    }
    let mut layers = Vec::new();
    for (j, l) in raw.layers.iter().enumerate() {
        let lkey = format!("{key}.layers[{j}]");
        if l.members.is_empty() {
            return Err(src.error(
                format!("{lkey}.members"),
                &raw.name,
                "a layer needs members",
            ));
        }
        for m in &l.members {
            known_user(out, src, &format!("{lkey}.members"), m)?;
        }
        let shift = duration(src, &format!("{lkey}.shift"), &l.shift)?;
        if shift < std::time::Duration::from_secs(3600) {
            return Err(src.error(
                format!("{lkey}.shift"),
                &l.shift,
                "a shift lasts at least 1h",
            ));
        }
        let handoff =
            NaiveDateTime::parse_from_str(&l.handoff, "%Y-%m-%dT%H:%M").map_err(|_| {
                src.error(
                    format!("{lkey}.handoff"),
                    &l.handoff,
                    format!("{:?} is not a local time like 2026-01-05T09:00", l.handoff),
                )
            })?;
        layers.push(Layer {
            members: l.members.clone(),
            shift,
            handoff,
        });
    }
    let mut overrides = Vec::new();
    for (j, o) in raw.overrides.iter().enumerate() {
        let okey = format!("{key}.overrides[{j}]");
        known_user(out, src, &format!("{okey}.user"), &o.user)?;
        let (start, end) = src.window(&okey, &o.start, &o.end)?;
        overrides.push(Override {
            user: o.user.clone(),
            start,
            end,
        });
    }
    Ok(Schedule {
        name: raw.name.clone(),
        time_zone: tz,
        layers,
        overrides,
    })
}

fn policy(
    out: &Policies,
    src: &SourceFile,
    key: &str,
    raw: &RawPolicy,
) -> Result<EscalationPolicy, ConfigError> {
    if raw.steps.is_empty() {
        return Err(src.error(
            format!("{key}.steps"),
            &raw.name,
            "a policy needs at least one step",
        ));
    }
    let mut steps: Vec<Step> = Vec::new();
    for (j, s) in raw.steps.iter().enumerate() {
        let skey = format!("{key}.steps[{j}]");
        let delay = duration(src, &format!("{skey}.delay"), &s.delay)?;
        if steps.last().is_some_and(|prev| prev.delay > delay) {
            return Err(src.error(
                format!("{skey}.delay"),
                &s.delay,
                "steps must be in order of delay (each delay counts from the incident's opening)",
            ));
        }
        if s.response_target.is_some() {
            return Err(src.error(
                format!("{skey}.response_target"),
                "response_target",
                "a response target is the policy's now: remove it from the step and give the policy `response_target: 5m` (how long until an unacknowledged incident misses it)",
            ));
        }
        if s.targets.is_empty() {
            return Err(src.error(
                format!("{skey}.targets"),
                &raw.name,
                "a step needs at least one target",
            ));
        }
        let mut targets = Vec::new();
        for t in &s.targets {
            let target: Target = t
                .parse()
                .map_err(|e| src.error(format!("{skey}.targets"), t, e))?;
            let known = match &target {
                Target::User(n) => out.users.contains_key(n),
                Target::Team(n) => out.teams.contains_key(n),
                Target::Schedule(n) => out.schedules.contains_key(n),
                Target::SlackChannel(n) => out.slack_channels.contains_key(n),
                Target::PagerDuty(n) => out.pagerduty_services.contains_key(n),
                Target::Webhook(n) => out.webhooks.contains_key(n),
            };
            if !known {
                return Err(src.error(
                    format!("{skey}.targets"),
                    t,
                    format!("unknown target {t:?}"),
                ));
            }
            targets.push(target);
        }
        let via = s
            .via
            .iter()
            .map(|c| {
                c.parse::<Channel>()
                    .map_err(|e| src.error(format!("{skey}.via"), c, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        steps.push(Step {
            delay,
            targets,
            via,
        });
    }
    let ack_timeout = raw
        .ack_timeout
        .as_deref()
        .map(|t| duration(src, &format!("{key}.ack_timeout"), t))
        .transpose()?;
    let response_target = raw
        .response_target
        .as_deref()
        .map(|t| duration(src, &format!("{key}.response_target"), t))
        .transpose()?;
    Ok(EscalationPolicy {
        name: raw.name.clone(),
        steps,
        repeat: raw.repeat,
        ack_timeout,
        response_target,
    })
}
