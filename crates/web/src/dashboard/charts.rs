//! Small server-drawn charts: stacked columns per day and horizontal bars.
//! The shapes are SVG, stretched to the width of their card; every word
//! (axis, names, legend, values) is HTML beside them, so text keeps its size
//! on a phone and wraps instead of being cut off. Each shape names its value
//! (a tooltip on hover; a tap shows it under the chart, see app.js). No
//! plotting crate or script library: a few rectangles, no fonts on the server,
//! nothing served from elsewhere, and nothing a Content Security Policy
//! without inline styles refuses.

use std::fmt::Write;

pub use ombud_core::html::escape;

/// A series of a stacked chart: its name and colour.
pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
}

/// What a tap on a shape says until one is tapped.
const READOUT: &str = "Point at or tap a bar for its numbers.";

/// Columns (one per label) of stacked values (one per series), with the
/// largest total on the axis, the first, middle and last label under it,
/// and a legend of the series that have a value.
pub fn stacked_columns(
    title: &str,
    labels: &[String],
    series: &[Series],
    values: &[Vec<u64>],
) -> String {
    let totals: Vec<u64> = values.iter().map(|v| v.iter().sum()).collect();
    let max = totals.iter().copied().max().unwrap_or(0);
    let scale = max.max(1) as f64;
    // 10 units a column, 100 high; the SVG stretches to its box.
    let width = 10 * labels.len().max(1);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<figure class="chart columns"><figcaption class="sr">{}</figcaption><div class="plot"><div class="y" aria-hidden="true"><span>{max}</span><span>0</span></div><svg viewBox="0 0 {width} 100" preserveAspectRatio="none" role="img" aria-label="{}">"#,
        escape(title),
        escape(title)
    );
    for (i, label) in labels.iter().enumerate() {
        let x = i as f64 * 10.0 + 1.5;
        let mut y = 100.0;
        for (s, v) in series.iter().zip(values[i].iter()) {
            if *v == 0 {
                continue;
            }
            let h = *v as f64 / scale * 100.0;
            y -= h;
            let said = format!("{}: {} {}", label, v, s.name);
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.2}" width="7" height="{h:.2}" fill="{}" data-value="{}"><title>{}</title></rect>"#,
                s.color,
                escape(&said),
                escape(&said)
            );
        }
    }
    // Under the columns (the grid's second row), not under the axis.
    out.push_str(r#"</svg><span></span><div class="x" aria-hidden="true">"#);
    let picked: Vec<&String> = match labels.len() {
        0 => Vec::new(),
        1 => vec![&labels[0]],
        2 => vec![&labels[0], &labels[1]],
        n => vec![&labels[0], &labels[n / 2], &labels[n - 1]],
    };
    for label in picked {
        let _ = write!(out, "<span>{}</span>", escape(label));
    }
    out.push_str(r#"</div></div><ul class="legend">"#);
    for (k, s) in series.iter().enumerate() {
        if values.iter().all(|v| v.get(k).copied().unwrap_or(0) == 0) {
            continue;
        }
        let _ = write!(
            out,
            r#"<li><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" fill="{}"/></svg>{}</li>"#,
            s.color,
            escape(s.name)
        );
    }
    let _ = write!(
        out,
        r#"</ul><p class="readout muted" aria-live="polite">{READOUT}</p></figure>"#
    );
    out
}

/// One horizontal bar per item, with its name before it and its count after.
pub fn bars(title: &str, items: &[(String, u64)], color: &str) -> String {
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<figure class="chart bars" role="group" aria-label="{}"><figcaption class="sr">{}</figcaption>"#,
        escape(title),
        escape(title)
    );
    if items.is_empty() {
        out.push_str(r#"<p class="muted">Nothing to show.</p>"#);
    }
    for (name, n) in items {
        // Whole hundredths of the track; a count above zero stays visible.
        let w = (*n as f64 / max * 100.0).max(if *n > 0 { 1.0 } else { 0.0 });
        let said = format!("{name}: {n}");
        let _ = write!(
            out,
            r#"<div class="bar"><span class="name">{}</span><svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true"><rect width="{w:.1}" height="10" fill="{color}" data-value="{}"><title>{}</title></rect></svg><span class="n">{n}</span></div>"#,
            escape(name),
            escape(&said),
            escape(&said)
        );
    }
    out.push_str("</figure>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_break_out_of_the_chart() {
        let html = bars("t", &[("<script>alert(1)</script>".into(), 3)], "#000");
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        let series = [Series {
            name: "<b>",
            color: "#000",
        }];
        let html = stacked_columns("<i>", &["<u>".into()], &series, &[vec![1]]);
        assert!(!html.contains("<b>") && !html.contains("<i>") && !html.contains("<u>"));
    }

    #[test]
    fn columns_stack_to_their_total_and_the_legend_names_only_what_is_drawn() {
        let series = [
            Series {
                name: "open",
                color: "#f00",
            },
            Series {
                name: "done",
                color: "#0f0",
            },
            Series {
                name: "lost",
                color: "#00f",
            },
        ];
        let html = stacked_columns(
            "t",
            &["a".into(), "b".into()],
            &series,
            &[vec![2, 2, 0], vec![0, 1, 0]],
        );
        // Three non-empty segments, each naming its count; two swatches.
        assert_eq!(html.matches("data-value=").count(), 3);
        assert!(
            html.contains("<title>a: 2 open</title>") && html.contains("<title>b: 1 done</title>")
        );
        assert_eq!(html.matches(r#"class="swatch""#).count(), 2);
        assert!(!html.contains(">lost</li>"));
        // The axis says the largest total; the columns fill its height.
        assert!(html.contains("<span>4</span><span>0</span>"));
        assert!(
            html.contains(r#"y="0.00" width="7" height="50.00""#),
            "{html}"
        );
    }

    #[test]
    fn a_long_axis_names_its_ends_and_middle() {
        let labels: Vec<String> = (1..=90).map(|d| format!("d{d}")).collect();
        let values = vec![vec![1]; 90];
        let series = [Series {
            name: "new",
            color: "#000",
        }];
        let html = stacked_columns("t", &labels, &series, &values);
        assert!(html.contains(
            r#"<div class="x" aria-hidden="true"><span>d1</span><span>d46</span><span>d90</span></div>"#
        ));
        assert!(html.contains(r#"viewBox="0 0 900 100""#));
    }
}
