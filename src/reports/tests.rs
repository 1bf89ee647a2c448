use super::*;

#[test]
fn the_sample_renders_in_both_languages_with_every_heading() {
    let t = ReportTemplates::default();
    let en = t.render(&sample(Locale::En)).unwrap();
    for heading in [
        "# Incident report - 2026-11-25",
        "## Summary",
        "## Description",
        "## Timeline",
        "## Root cause",
        "## Resolution",
        "## Prevention",
        "## Lessons learned",
    ] {
        assert!(en.contains(heading), "{heading} missing in\n{en}");
    }
    let zh = t.render(&sample(Locale::ZhCn)).unwrap();
    for heading in [
        "# 事故报告 - 2026-11-25",
        "## 基本信息",
        "- 事故ID: INC-202611251858",
        "## 事故描述",
        "## 根本原因",
        "## 解决方案",
        "## 预防措施",
        "## 经验教训",
    ] {
        assert!(zh.contains(heading), "{heading} missing in\n{zh}");
    }
    println!("{en}\n=====\n{zh}");
}
