//! Small server-side SVG charts: stacked bars per day and horizontal bars.
//! Written here rather than with a plotting crate: they are a few rectangles
//! and labels, need no fonts on the server, and scale with the page (viewBox).

use std::fmt::Write;

pub use ombud_core::html::escape;

/// A series of a stacked chart: its name and colour.
pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
}

/// Columns (one per label) of stacked values (one per series), with a legend.
pub fn stacked_columns(
    title: &str,
    labels: &[String],
    series: &[Series],
    values: &[Vec<u64>],
) -> String {
    let (w, h, left, bottom, top) = (720.0, 260.0, 36.0, 40.0, 10.0);
    let totals: Vec<u64> = values.iter().map(|v| v.iter().sum()).collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let plot_h = h - bottom - top;
    let step = (w - left) / labels.len().max(1) as f64;
    let bar = (step * 0.7).max(1.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {w} {}" role="img" aria-label="{}"><title>{}</title>"#,
        h + 24.0,
        escape(title),
        escape(title)
    );
    // Axis: zero and the maximum.
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" class="axis" text-anchor="end">{}</text><text x="{}" y="{}" class="axis" text-anchor="end">0</text>"#,
        left - 4.0,
        top + 8.0,
        max as u64,
        left - 4.0,
        h - bottom
    );
    for (i, label) in labels.iter().enumerate() {
        let x = left + i as f64 * step + (step - bar) / 2.0;
        let mut y = h - bottom;
        for (s, v) in series.iter().zip(values[i].iter()) {
            if *v == 0 {
                continue;
            }
            let bh = *v as f64 / max * plot_h;
            y -= bh;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{bh:.1}" fill="{}"><title>{}: {} {}</title></rect>"#,
                s.color,
                escape(label),
                v,
                escape(s.name)
            );
        }
        // Every label would crowd a month; one in five, and the last.
        if i % 5 == 0 || i + 1 == labels.len() {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}" class="axis" text-anchor="middle">{}</text>"#,
                x + bar / 2.0,
                h - bottom + 14.0,
                escape(label)
            );
        }
    }
    let mut lx = left;
    for s in series {
        let _ = write!(
            svg,
            r#"<rect x="{lx:.1}" y="{}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{}" class="legend">{}</text>"#,
            h + 6.0,
            s.color,
            lx + 14.0,
            h + 15.0,
            escape(s.name)
        );
        lx += 14.0 + 8.0 * s.name.len() as f64 + 16.0;
    }
    svg.push_str("</svg>");
    svg
}

/// One horizontal bar per item, labelled with its name and count.
pub fn bars(title: &str, items: &[(String, u64)], color: &str) -> String {
    let (w, row, label_w) = (520.0, 24.0, 160.0);
    let h = row * items.len().max(1) as f64 + 8.0;
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    if items.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="0" y="18" class="axis">nothing to show</text>"#
        );
    }
    for (i, (name, n)) in items.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let bw = (*n as f64 / max * (w - label_w - 50.0)).max(if *n > 0 { 2.0 } else { 0.0 });
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="end">{}</text><rect x="{label_w}" y="{y:.1}" width="{bw:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" class="axis">{n}</text>"#,
            label_w - 6.0,
            y + 15.0,
            escape(name),
            row - 6.0,
            label_w + bw + 4.0,
            y + 15.0
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_break_out_of_the_svg() {
        let svg = bars("t", &[("<script>alert(1)</script>".into(), 3)], "#000");
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn columns_stack_to_their_total() {
        let series = [
            Series {
                name: "open",
                color: "#f00",
            },
            Series {
                name: "done",
                color: "#0f0",
            },
        ];
        let svg = stacked_columns(
            "t",
            &["a".into(), "b".into()],
            &series,
            &[vec![2, 2], vec![0, 1]],
        );
        // Three non-empty segments, each with a tooltip naming its count.
        assert_eq!(
            svg.matches("<rect x=").count(),
            3 + 2,
            "segments and legend swatches"
        );
        assert!(
            svg.contains("<title>a: 2 open</title>") && svg.contains("<title>b: 1 done</title>")
        );
    }
}
