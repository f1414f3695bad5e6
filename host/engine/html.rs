//! Pieces of the self-contained HTML reports (replay, weekly): escaping and
//! SVG stacked bars. No scripts, no external resources.

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One horizontal stacked bar per row, scaled to the largest row, with a
/// legend. `series` names the segments and their colours.
pub fn stacked_bars(title: &str, rows: &[(String, Vec<u64>)], series: &[(&str, &str)]) -> String {
    let (w, row, label) = (560.0, 26.0, 110.0);
    let max = rows
        .iter()
        .map(|(_, v)| v.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">",
        w + label + 60.0,
        row * rows.len() as f64 + 40.0,
        esc(title)
    );
    for (i, (name, values)) in rows.iter().enumerate() {
        let y = 6.0 + i as f64 * row;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 14.0,
            esc(name)
        ));
        let mut x = label;
        for ((s, colour), n) in series.iter().zip(values) {
            if *n == 0 {
                continue;
            }
            let width = w * *n as f64 / max;
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{width:.1}\" height=\"18\" fill=\"{colour}\"><title>{}: {n}</title></rect>",
                esc(s)
            ));
            x += width;
        }
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{}</text>",
            x + 4.0,
            y + 14.0,
            values.iter().sum::<u64>()
        ));
    }
    let mut x = label;
    let y = 10.0 + row * rows.len() as f64;
    for (s, colour) in series {
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            x + 16.0,
            y + 11.0,
            esc(s)
        ));
        x += 115.0;
    }
    svg.push_str("</svg>");
    svg
}
