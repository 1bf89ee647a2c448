//! Incident reports: a Markdown draft made from an incident's timeline when it resolves, in
//! English or Chinese (a `minijinja` template in config replaces both), with free sections that
//! notes pre-fill and people edit. Pure: the store reads the rows, the timer worker stores and
//! delivers the draft.

mod charts;
mod escape;
pub mod html;
mod model;
pub mod monthly;
mod phrases;
mod render;
mod sample;
mod sections;
pub mod stats;
mod timeline;

use std::fmt;

pub use self::escape::{block, inline};
pub use self::model::{Facts, Report, build};
pub use self::render::ReportTemplates;
pub use self::sample::sample;
pub use self::sections::{SECTIONS, Section, from_notes};

/// A report's language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Locale {
    #[default]
    En,
    ZhCn,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }
}

impl std::str::FromStr for Locale {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "en" => Ok(Locale::En),
            "zh-CN" | "zh" | "zh-cn" => Ok(Locale::ZhCn),
            other => Err(format!("{other:?} is not a report locale (en, zh-CN)")),
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
