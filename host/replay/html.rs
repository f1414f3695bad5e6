//! The self-contained HTML report of a replay: tables and SVG bar charts,
//! no scripts, no external resources.

use super::summary::{MAX_PERIODS, ReplayReport, Timing, pct_fine};

use crate::html::esc;

const COLOURS: [(&str, &str); 5] = [
    ("approve_auto", "#2e7d32"),
    ("approve_manual", "#66bb6a"),
    ("pending_review", "#f9a825"),
    ("deny", "#c62828"),
    ("defer", "#78909c"),
];

/// ` (3 revived)` in red after a cell, when there are any.
fn warn_if_any(n: u64, what: &str) -> String {
    if n > 0 {
        format!(" <span class=\"warn\">({n} {what})</span>")
    } else {
        String::new()
    }
}

/// One horizontal stacked bar per candidate: its outcome distribution.
fn outcome_chart(r: &ReplayReport) -> String {
    let (w, row) = (640.0, 34.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"Outcomes per strategy\">",
        w + 180.0,
        row * r.candidates.len() as f64 + 40.0
    );
    for (i, c) in r.candidates.iter().enumerate() {
        let y = 10.0 + i as f64 * row;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text>",
            y + 17.0,
            esc(&c.strategy)
        ));
        let mut x = 170.0;
        for (name, colour) in COLOURS {
            let n = c.outcomes.get(name).copied().unwrap_or(0);
            if n == 0 || c.decisions == 0 {
                continue;
            }
            let width = w * n as f64 / c.decisions as f64;
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{width:.1}\" height=\"24\" fill=\"{colour}\"><title>{name}: {n}</title></rect>"
            ));
            x += width;
        }
    }
    let mut x = 170.0;
    let y = 14.0 + row * r.candidates.len() as f64;
    for (name, colour) in COLOURS {
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{name}</text>",
            x + 16.0,
            y + 11.0
        ));
        x += 130.0;
    }
    svg.push_str("</svg>");
    svg
}

/// Grouped bars: unsafe auto-resurrections, recovered false positives and
/// human workload per candidate.
fn safety_chart(r: &ReplayReport) -> String {
    let max = r
        .candidates
        .iter()
        .flat_map(|c| {
            [
                c.unsafe_auto_resurrections,
                c.recovered_false_positives,
                c.human_workload,
            ]
        })
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (h, group) = (200.0, 150.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"Safety and workload\">",
        group * r.candidates.len() as f64 + 20.0,
        h + 60.0
    );
    for (i, c) in r.candidates.iter().enumerate() {
        let x0 = 10.0 + i as f64 * group;
        for (j, (label, n, colour)) in [
            ("unsafe", c.unsafe_auto_resurrections, "#c62828"),
            ("FP back", c.recovered_false_positives, "#2e7d32"),
            ("workload", c.human_workload, "#f9a825"),
        ]
        .into_iter()
        .enumerate()
        {
            let bh = h * n as f64 / max;
            let x = x0 + j as f64 * 40.0;
            svg.push_str(&format!(
                "<rect x=\"{x}\" y=\"{:.1}\" width=\"34\" height=\"{bh:.1}\" fill=\"{colour}\"><title>{label}: {n}</title></rect>",
                h - bh + 10.0
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{x0}\" y=\"{}\" font-size=\"13\">{}</text>",
            h + 30.0,
            esc(&c.strategy)
        ));
    }
    svg.push_str(&format!(
        "<text x=\"10\" y=\"{}\" font-size=\"12\">red: unsafe auto-resurrections · green: false positives brought back · amber: human workload</text></svg>",
        h + 52.0
    ));
    svg
}

pub fn render(r: &ReplayReport, timing: &Timing) -> String {
    let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.1}%", v * 100.0));
    let mut rows = String::new();
    for c in &r.candidates {
        let x = &c.cells;
        let share = |n: u64, of: u64| {
            if of == 0 {
                "–".to_string()
            } else {
                format!("{:.1}%", n as f64 * 100.0 / of as f64)
            }
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{} ({} to a human)</td><td>{} · {}</td><td>{} · {}</td><td>{} · {}</td><td>{} · {}</td><td>{:.0}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&c.strategy),
            x.threat_revived,
            x.threat_held,
            x.threat_to_human,
            x.fp_recovered,
            share(x.fp_recovered, c.false_positives),
            x.fp_to_human,
            share(x.fp_to_human, c.false_positives),
            x.fp_left_down,
            share(x.fp_left_down, c.false_positives),
            c.human_workload,
            share(c.human_workload, c.decisions),
            c.cost,
            pct(c.precision),
            pct(c.recall),
            esc(&c.sha256[..12.min(c.sha256.len())])
        ));
    }
    let legend: String = super::summary::LEGEND
        .iter()
        .map(|(col, what)| format!("<li><b>{}</b>: {}</li>", esc(col), esc(what)))
        .collect();
    let warnings: String = r
        .warnings
        .iter()
        .map(|w| format!("<p class=\"warn\">WARNING: {}</p>", esc(w)))
        .collect();
    let mut guardrails = String::new();
    for c in &r.candidates {
        let g: Vec<String> = c
            .guardrails
            .iter()
            .map(|(k, v)| format!("{} {v}", esc(k)))
            .collect();
        guardrails.push_str(&format!(
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(&c.strategy),
            if g.is_empty() {
                "none".to_string()
            } else {
                g.join(" · ")
            }
        ));
    }
    let mut disagreements = String::new();
    for d in &r.disagreements.examples {
        let o: Vec<String> = d
            .outcomes
            .iter()
            .map(|(k, v)| format!("{}: {}", esc(k), esc(v)))
            .collect();
        disagreements.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            esc(&d.kill_id),
            o.join(" · ")
        ));
    }
    // Recovery over time: the same weeks for every candidate (each sees
    // every kill).
    let mut over_time = String::new();
    if let Some(first) = r.candidates.first().filter(|c| c.by_week.len() > 1) {
        let head: String = first
            .periods(MAX_PERIODS)
            .iter()
            .map(|p| format!("<th>{}</th>", p.name()))
            .collect();
        over_time.push_str(&format!(
            "<h2>Over time</h2><p>False positives brought back with no human, by week of the recording (threats revived, if any, in red).</p><table><tr><th>strategy</th>{head}</tr>"
        ));
        for c in &r.candidates {
            let cells: String = c
                .periods(MAX_PERIODS)
                .iter()
                .map(|p| {
                    let x = &p.cells;
                    let revived = warn_if_any(x.threat_revived, "revived");
                    format!("<td>{}{revived}</td>", pct(x.recovered_share()))
                })
                .collect();
            over_time.push_str(&format!("<tr><td>{}</td>{cells}</tr>", esc(&c.strategy)));
        }
        over_time.push_str("</table>");
    }
    // Does a score mean what it says: each band's share of threats beside
    // its mean score.
    let mut scores = String::new();
    if r.candidates.iter().any(|c| !c.by_score.is_empty()) {
        scores.push_str(
            "<h2>Scores against the labels</h2><p>The labelled kills by band of risk score: how many were real threats, their mean score, and what was brought back with no human (threats among them in red).</p>\
<table><tr><th>strategy</th><th>risk score</th><th>kills</th><th>threats</th><th>share</th><th>mean score</th><th>back with no human</th></tr>",
        );
        for c in &r.candidates {
            for b in c.by_score.iter().filter(|b| b.kills > 0) {
                let revived = warn_if_any(b.threats_revived, "threats");
                scores.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{}{revived}</td></tr>",
                    esc(&c.strategy),
                    b.name(),
                    b.kills,
                    b.threats,
                    pct_fine(b.threat_share()),
                    b.mean_score,
                    b.automatic
                ));
            }
        }
        scores.push_str("</table>");
    }
    let mut timings = String::new();
    for (name, t) in &timing.plugins {
        timings.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td></tr>",
            esc(name),
            t.calls,
            t.p50_us,
            t.p99_us
        ));
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Medic replay: {rec}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1000px}}table{{border-collapse:collapse;margin:1rem 0}}\
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}.warn{{color:#b71c1c;font-weight:bold}}td:first-child,th:first-child{{text-align:left}}</style></head><body>\
<h1>Replay of {rec}</h1><p>{kills} kills{scenario} · mode {mode} · phase {phase} · scorer {scorer}</p>\
{warnings}<h2>Outcomes</h2>{outcomes}<h2>Safety and workload</h2>{safety}\
<table><tr><th>strategy</th><th>THREAT-BACK</th><th>THREAT-HELD</th><th>FP-AUTO</th><th>FP-HUMAN</th><th>FP-DOWN</th><th>TO-HUMAN</th><th>COST</th><th>precision</th><th>recall</th><th>sha256</th></tr>{rows}</table>\
<ul>{legend}<li>costs: threat revived {c_threat}, false positive left down {c_down}, each kill to a human {c_review}, correct {c_correct}; reviewer: {reviewer}</li></ul>{over_time}{scores}\
<h2>Held back by guardrails</h2><table><tr><th>strategy</th><th>guardrail: kills</th></tr>{guardrails}</table>\
<h2>Disagreements: {dcount} (showing {dshown}, {dleft} left out)</h2><table><tr><th>kill</th><th>outcomes</th></tr>{disagreements}</table>\
<h2>Plugin latency (this run)</h2><table><tr><th>plugin</th><th>calls</th><th>p50 µs</th><th>p99 µs</th></tr>{timings}</table>\
<p>{kps} kills/s over {secs} s.</p></body></html>\n",
        rec = esc(&r.recording),
        kills = r.kills,
        scenario = r
            .scenario
            .as_ref()
            .map_or(String::new(), |s| format!(" (scenario {})", esc(s))),
        mode = esc(&r.mode),
        phase = esc(&r.phase),
        scorer = esc(&r.scorer),
        outcomes = outcome_chart(r),
        safety = safety_chart(r),
        dcount = r.disagreements.count,
        dshown = r.disagreements.examples.len(),
        dleft = r
            .disagreements
            .count
            .saturating_sub(r.disagreements.examples.len() as u64),
        c_threat = r.costs.threat_revived,
        c_down = r.costs.fp_left_down,
        c_review = r.costs.review,
        c_correct = r.costs.correct,
        reviewer = esc(&r.reviewer),
        kps = timing.kills_per_second,
        secs = timing.elapsed_seconds,
    )
}
