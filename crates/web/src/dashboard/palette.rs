//! One palette for statuses and priorities, used by the lists' and pages'
//! pills (served as `palette.css`, made from these colours) and the
//! overview's charts. Each colour pair is checked for contrast (WCAG 2):
//! a pill's text on its background at 4.5:1, a chart's bar on the page at
//! 3:1.

use ombud_core::{ComplaintStatus, Priority};

/// A status's or a priority's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swatch {
    /// A chart's bar or slice.
    pub fill: &'static str,
    /// A pill's background.
    pub tint: &'static str,
    /// A pill's text.
    pub ink: &'static str,
}

const fn swatch(fill: &'static str, tint: &'static str, ink: &'static str) -> Swatch {
    Swatch { fill, tint, ink }
}

pub fn status(s: ComplaintStatus) -> Swatch {
    use ComplaintStatus::*;
    match s {
        New => swatch("#b45309", "#fef3c7", "#78350f"),
        PendingValidation => swatch("#7e22ce", "#f3e8ff", "#581c87"),
        Validated => swatch("#0f766e", "#ccfbf1", "#134e4a"),
        Acknowledged => swatch("#0369a1", "#e0f2fe", "#0c4a6e"),
        InProgress => swatch("#4338ca", "#e0e7ff", "#312e81"),
        OnHold => swatch("#64748b", "#e2e8f0", "#1e293b"),
        Escalated => swatch("#dc2626", "#fee2e2", "#7f1d1d"),
        Resolved => swatch("#15803d", "#dcfce7", "#14532d"),
        Closed => swatch("#57534e", "#e7e5e4", "#292524"),
        Rejected => swatch("#9d174d", "#fce7f3", "#831843"),
    }
}

pub fn priority(p: Priority) -> Swatch {
    match p {
        Priority::Low => swatch("#64748b", "#f1f5f9", "#334155"),
        Priority::Normal => swatch("#475569", "#e2e8f0", "#1e293b"),
        Priority::High => swatch("#c2410c", "#ffedd5", "#9a3412"),
        // The one that must stand out: solid.
        Priority::Urgent => swatch("#b91c1c", "#b91c1c", "#ffffff"),
    }
}

/// The pills' stylesheet: `.status-<status>` and `.priority-<priority>`.
pub fn css() -> String {
    let mut out = String::from(
        "/* Made by Ombud from its palette (crates/web/src/dashboard/palette.rs). */\n\
         .priority { display:inline-block; padding:.05rem .45rem; border-radius:999px; font-size:.85em; white-space:nowrap; }\n",
    );
    let pills = ComplaintStatus::ALL
        .iter()
        .map(|s| ("status", s.as_str(), status(*s)))
        .chain(
            Priority::ALL
                .iter()
                .map(|p| ("priority", p.as_str(), priority(*p))),
        );
    for (kind, name, c) in pills {
        out.push_str(&format!(
            ".{kind}-{name} {{ background:{}; color:{}; }}\n",
            c.tint, c.ink
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG 2's contrast ratio of two `#rrggbb` colours, 1 to 21.
    fn contrast(a: &str, b: &str) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    fn luminance(hex: &str) -> f64 {
        let channel = |i: usize| {
            let c =
                f64::from(u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).unwrap_or(0)) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
    }

    /// The dashboard's page background and its cards'.
    const BACKGROUNDS: [&str; 2] = ["#f6f7f9", "#ffffff"];

    #[test]
    fn every_pill_and_bar_reads_against_what_it_sits_on() {
        let swatches = ComplaintStatus::ALL
            .iter()
            .map(|s| (s.as_str(), status(*s)))
            .chain(Priority::ALL.iter().map(|p| (p.as_str(), priority(*p))));
        for (name, c) in swatches {
            let text = contrast(c.ink, c.tint);
            assert!(text >= 4.5, "{name}: its pill's text at {text:.2}:1");
            for page in BACKGROUNDS {
                let bar = contrast(c.fill, page);
                assert!(bar >= 3.0, "{name}: its bar on {page} at {bar:.2}:1");
            }
        }
    }

    #[test]
    fn each_status_has_its_own_colours_and_the_stylesheet_names_them_all() {
        let fills: std::collections::BTreeSet<&str> = ComplaintStatus::ALL
            .iter()
            .map(|s| status(*s).fill)
            .collect();
        assert_eq!(fills.len(), ComplaintStatus::ALL.len());
        let tints: std::collections::BTreeSet<&str> = ComplaintStatus::ALL
            .iter()
            .map(|s| status(*s).tint)
            .collect();
        assert_eq!(tints.len(), ComplaintStatus::ALL.len());
        let css = css();
        for s in ComplaintStatus::ALL {
            assert!(css.contains(&format!(".status-{} {{", s.as_str())), "{css}");
        }
        assert!(css.contains(".priority-urgent { background:#b91c1c; color:#ffffff; }"));
        assert_eq!(contrast("#000000", "#ffffff").round(), 21.0);
        assert_eq!(contrast("#777777", "#777777"), 1.0);
    }
}
