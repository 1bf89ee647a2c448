//! The monthly report's charts, drawn as SVG by plotters: incidents per day by severity (stacked
//! bars) and mean time to acknowledge and to resolve per week (lines, in minutes).

use plotters::prelude::*;

use super::Locale;
use super::monthly::{Day, Trend};

const SIZE: (u32, u32) = (760, 300);
const CRITICAL: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const WARNING: RGBColor = RGBColor(0xff, 0x9f, 0x1c);
const INFO: RGBColor = RGBColor(0x1f, 0x77, 0xb4);

fn words(locale: Locale) -> [&'static str; 7] {
    match locale {
        Locale::En => [
            "Incidents per day by severity",
            "critical",
            "warning",
            "info",
            "Mean time to acknowledge and to resolve per week (minutes)",
            "MTTA",
            "MTTR",
        ],
        Locale::ZhCn => [
            "每日事故数（按严重等级）",
            "严重",
            "警告",
            "提示",
            "每周平均确认与解决用时（分钟）",
            "平均确认用时",
            "平均解决用时",
        ],
    }
}

/// A stacked layer: its label, colour, and the span of a day's bar it covers.
type Layer<'a> = (&'a str, RGBColor, fn(&Day) -> (i64, i64));
/// A line: its label, colour, and a week's value.
type Line<'a> = (&'a str, RGBColor, fn(&Trend) -> Option<f64>);

/// Draws the legend and writes the chart out.
fn finish<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    root: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(failed)?;
    root.present().map_err(failed)
}

fn failed<E: std::fmt::Debug>(e: E) -> String {
    format!("chart: {e:?}")
}

/// Incidents per day, a bar per day stacked by severity.
pub fn incidents_per_day(days: &[Day], locale: Locale) -> Result<String, String> {
    let w = words(locale);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let top = days
            .iter()
            .map(|d| d.critical + d.warning + d.info)
            .max()
            .unwrap_or(0)
            .max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(w[0], ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0u32..days.len() as u32, 0i64..top + top / 10 + 1)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(days.len().min(16))
            .x_label_formatter(&|i| {
                days.get(*i as usize)
                    .map(|d| d.date.format("%d").to_string())
                    .unwrap_or_default()
            })
            .draw()
            .map_err(failed)?;
        let layers: [Layer; 3] = [
            (w[1], CRITICAL, |d| (0, d.critical)),
            (w[2], WARNING, |d| (d.critical, d.critical + d.warning)),
            (w[3], INFO, |d| {
                (d.critical + d.warning, d.critical + d.warning + d.info)
            }),
        ];
        for (label, color, span) in layers {
            chart
                .draw_series(days.iter().enumerate().filter_map(|(i, d)| {
                    let (low, high) = span(d);
                    (high > low).then(|| {
                        let x = i as u32;
                        Rectangle::new([(x, low), (x + 1, high)], color.filled())
                    })
                }))
                .map_err(failed)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        finish(&mut chart, &root)?;
    }
    Ok(svg)
}

/// Mean time to acknowledge and to resolve per week, in minutes.
pub fn response_per_week(weeks: &[Trend], locale: Locale) -> Result<String, String> {
    let w = words(locale);
    let minutes = |s: Option<f64>| s.map(|s| s / 60.0);
    let top = weeks
        .iter()
        .flat_map(|t| [minutes(t.week.mtta), minutes(t.week.mttr)])
        .flatten()
        .fold(1.0f64, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(w[4], ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0usize..weeks.len().max(1), 0f64..top * 1.1)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_labels(weeks.len().max(1))
            .x_label_formatter(&|i| {
                weeks
                    .get(*i)
                    .map(|t| t.week.start.format("%m-%d").to_string())
                    .unwrap_or_default()
            })
            .draw()
            .map_err(failed)?;
        let lines: [Line; 2] = [
            (w[5], INFO, |t| t.week.mtta),
            (w[6], CRITICAL, |t| t.week.mttr),
        ];
        for (label, color, value) in lines {
            let points: Vec<(usize, f64)> = weeks
                .iter()
                .enumerate()
                .filter_map(|(i, t)| minutes(value(t)).map(|m| (i, m)))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(failed)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(failed)?;
        }
        finish(&mut chart, &root)?;
    }
    Ok(svg)
}
