//! The picture: four panels over the scenario's seconds (HAProxy's weights, request rate per
//! version, the canary's 5XX rate, mean response time), with the decisions and the fault marked.

use std::path::Path;

use plotters::prelude::*;

use crate::timeline::{Mark, Record, Sample};

const STABLE_COLOUR: RGBColor = RGBColor(31, 119, 180);
const CANARY_COLOUR: RGBColor = RGBColor(230, 110, 0);
const LISTENER: RGBColor = RGBColor(150, 150, 150);

type Series = (&'static str, RGBColor, Vec<(f64, f64)>);

fn points(samples: &[Sample], f: impl Fn(&Sample) -> Option<f64>) -> Vec<(f64, f64)> {
    samples.iter().filter_map(|s| Some((s.t, f(s)?))).collect()
}

/// Decisions that moved the canary, the fault and alarms: (time, label, colour).
fn markers(record: &Record) -> Vec<(f64, String, RGBColor)> {
    let label = |m: &Mark| -> Option<(String, RGBColor)> {
        match (m.source.as_str(), m.kind.as_str()) {
            (_, "promoted") => Some((
                m.detail["outcome"]["weights"]["canary"]
                    .as_u64()
                    .map_or("promote".into(), |p| format!("{p}%")),
                RGBColor(40, 150, 40),
            )),
            (_, "completed") => Some(("complete".into(), RGBColor(40, 150, 40))),
            (_, "released") => Some(("idle on the release".into(), RGBColor(40, 150, 40))),
            ("fleet", "refreshed") if m.detail["fleet"] == "stable" => {
                Some(("stable fleet moved".into(), RGBColor(40, 150, 40)))
            }
            (source, "rolled_back" | "rollback_won") => {
                Some((format!("rollback ({source})"), RGBColor(200, 0, 0)))
            }
            ("fault", _) => Some(("fault on".into(), RGBColor(160, 0, 160))),
            ("alarm", "alarm") => Some(("alarm".into(), RGBColor(200, 0, 0))),
            _ => None,
        }
    };
    record
        .decisions
        .iter()
        .chain(&record.events)
        .filter_map(|m| label(m).map(|(l, c)| (m.t, l, c)))
        .collect()
}

pub fn draw(path: &Path, record: &Record) -> Result<(), String> {
    draw_inner(path, record).map_err(|e| format!("drawing {}: {e}", path.display()))
}

fn draw_inner(path: &Path, record: &Record) -> Result<(), Box<dyn std::error::Error>> {
    let s = &record.samples;
    let t_max = s.last().map_or(1.0, |x| x.t).max(1.0);
    let share = |w1: u32, w2: u32| {
        let total = f64::from(w1 + w2);
        (total > 0.0).then(|| 100.0 * f64::from(w2) / total)
    };
    let panels: Vec<(&str, &str, Vec<Series>)> = vec![
        (
            "Traffic split: the canary's share (HAProxy weights; grey: the emulator's listener)",
            "% to canary",
            vec![
                (
                    "HAProxy",
                    CANARY_COLOUR,
                    points(s, |x| {
                        share(x.haproxy.stable.weight, x.haproxy.canary.weight)
                    }),
                ),
                (
                    "listener",
                    LISTENER,
                    points(s, |x| x.listener_canary_percent),
                ),
            ],
        ),
        (
            "Requests per second (HAProxy's per-server counters)",
            "req/s",
            vec![
                ("stable", STABLE_COLOUR, points(s, |x| Some(x.stable_rps))),
                ("canary", CANARY_COLOUR, points(s, |x| Some(x.canary_rps))),
            ],
        ),
        (
            "The canary's 5XX rate (last 5 s, HAProxy's counters)",
            "% of canary requests",
            vec![(
                "canary",
                CANARY_COLOUR,
                points(s, |x| x.canary_error_percent),
            )],
        ),
        (
            "Mean server response time (HAProxy's per-request log)",
            "ms",
            vec![
                ("stable", STABLE_COLOUR, points(s, |x| x.stable_latency_ms)),
                ("canary", CANARY_COLOUR, points(s, |x| x.canary_latency_ms)),
            ],
        ),
    ];
    let marks = markers(record);

    let root = SVGBackend::new(path, (1100, 1000)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(36);
    title.draw_text(
        &format!("alb-canary lab: {} scenario", record.scenario),
        &("sans-serif", 22).into_font().color(&BLACK),
        (12, 8),
    )?;
    for (i, (area, (caption, unit, series))) in body
        .split_evenly((panels.len(), 1))
        .iter()
        .zip(panels)
        .enumerate()
    {
        let y_max = series
            .iter()
            .flat_map(|(_, _, p)| p.iter().map(|(_, y)| *y))
            .fold(1.0_f64, f64::max)
            * 1.15;
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 15))
            .margin(6)
            .x_label_area_size(24)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..t_max, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc(unit)
            .light_line_style(WHITE)
            .draw()?;
        for (n, (t, label, color)) in marks.iter().enumerate() {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(*t, 0.0), (*t, y_max)],
                color.stroke_width(1),
            )))?;
            // Labels on the top panel only, staggered: marks are often a fraction of a second apart.
            if i == 0 {
                let y = y_max * (0.95 - 0.12 * (n % 3) as f64);
                chart.draw_series(std::iter::once(Text::new(
                    format!(" {label}"),
                    (*t, y),
                    ("sans-serif", 11).into_font().color(color),
                )))?;
            }
        }
        for (name, color, pts) in series {
            let width = if color == LISTENER { 1 } else { 2 };
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(width)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(width))
                });
        }
        chart
            .configure_series_labels()
            // The top panel's upper edge holds the decision labels.
            .position(if i == 0 {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
