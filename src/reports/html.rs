//! The monthly report as one self-contained HTML file: its Markdown rendered (tables included;
//! any raw HTML shown as text), its two charts inline as SVG, and a little CSS.

use pulldown_cmark::{Event, Options, Parser, html};

use super::Locale;
use super::charts::{incidents_per_day, response_per_week};
use super::monthly::Monthly;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;\
padding:0 1rem;color:#222}table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid \
#ccc;padding:.3rem .6rem;text-align:left}th{background:#f4f4f4}.charts svg{max-width:100%;\
height:auto;display:block;margin:1rem 0}";

/// The report as a page, with `markdown` (its Markdown form) as the text.
pub fn page(report: &Monthly, markdown: &str) -> Result<String, String> {
    let locale: Locale = report.locale.parse().unwrap_or_default();
    // Markdown cannot smuggle markup in: raw HTML becomes text.
    let events = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        other => other,
    });
    let mut body = String::new();
    html::push_html(&mut body, events);
    let charts = format!(
        "<section class=\"charts\">\n{}\n{}\n</section>\n",
        incidents_per_day(&report.days, locale)?,
        response_per_week(&report.weeks, locale)?
    );
    // The charts go under the title.
    let at = body.find("</h1>").map_or(0, |i| i + "</h1>".len());
    body.insert_str(at, &format!("\n{charts}"));
    let mut title = String::new();
    html::push_html(
        &mut title,
        [Event::Text(report.month_name.clone().into())].into_iter(),
    );
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>alertrouter \
         {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        report.locale,
        title.trim()
    ))
}
