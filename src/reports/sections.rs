//! The free sections of a report — description, root cause, resolution, prevention, lessons
//! learned — and how notes fill them: a note whose text starts with a section's name and a
//! colon (`root cause: …`, `根本原因：…`) goes to that section.

use std::collections::BTreeMap;

/// One free section: its key in the API and the stored edits, its titles, and the words a
/// note may start with to fill it.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    pub key: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
    prefixes: &'static [&'static str],
}

/// Every free section, in report order.
pub const SECTIONS: [Section; 5] = [
    Section {
        key: "description",
        en: "Description",
        zh: "事故描述",
        prefixes: &["description", "事故描述", "描述"],
    },
    Section {
        key: "root_cause",
        en: "Root cause",
        zh: "根本原因",
        prefixes: &["root cause", "root-cause", "根本原因", "根因"],
    },
    Section {
        key: "resolution",
        en: "Resolution",
        zh: "解决方案",
        prefixes: &["resolution", "fix", "解决方案", "解决"],
    },
    Section {
        key: "prevention",
        en: "Prevention",
        zh: "预防措施",
        prefixes: &["prevention", "预防措施", "预防"],
    },
    Section {
        key: "lessons_learned",
        en: "Lessons learned",
        zh: "经验教训",
        prefixes: &["lessons learned", "lessons", "经验教训", "教训"],
    },
];

/// The section a note fills and the note's text after its prefix, if it names one.
fn classify(note: &str) -> Option<(&'static str, &str)> {
    let text = note.trim_start();
    for section in &SECTIONS {
        for prefix in section.prefixes {
            // `get` is `None` off a character boundary: hostile text cannot split a character.
            let Some(head) = text.get(..prefix.len()) else {
                continue;
            };
            if !head.eq_ignore_ascii_case(prefix) {
                continue;
            }
            let after = text[prefix.len()..].trim_start();
            if let Some(body) = after.strip_prefix(':').or_else(|| after.strip_prefix('：')) {
                return Some((section.key, body.trim()));
            }
        }
    }
    None
}

/// The sections the notes fill, by key, each note's text on its own paragraph in note order.
pub fn from_notes<'a>(notes: impl IntoIterator<Item = &'a str>) -> BTreeMap<&'static str, String> {
    let mut out: BTreeMap<&'static str, String> = BTreeMap::new();
    for note in notes {
        if let Some((key, body)) = classify(note).filter(|(_, b)| !b.is_empty()) {
            let text = out.entry(key).or_default();
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(body);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_that_name_a_section_fill_it_in_order() {
        let filled = from_notes([
            "Root Cause: the disk filled",
            "looking at it",
            "根本原因：日志没有轮转",
            "fix : rotated the logs",
            "lessons learned:",
            "预防措施：加磁盘告警",
            "rootcause: not this one",
        ]);
        assert_eq!(filled["root_cause"], "the disk filled\n\n日志没有轮转");
        assert_eq!(filled["resolution"], "rotated the logs");
        assert_eq!(filled["prevention"], "加磁盘告警");
        assert!(
            !filled.contains_key("lessons_learned"),
            "an empty note fills nothing"
        );
        assert_eq!(filled.len(), 3);
    }
}
