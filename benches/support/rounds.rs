//! Results a bench measures outside criterion, in interleaved rounds: their
//! median, and the rows written where `benches/report.py` reads them
//! (`target/bench-python/<group>.json`, in the shape of the Python peers'
//! rows).

/// The median of a case's rounds.
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// What [`interleave`] found for one case: the median of its rounds, and
/// its fastest and slowest round.
pub(crate) struct Summary {
    pub(crate) median: f64,
    pub(crate) span: (f64, f64),
}

/// Times `cases` cases in `rounds` rounds whose order rotates (round `r`
/// starts with case `r % cases`), so that drift of a shared machine hits
/// every case alike; `run(i)` times case `i` once.
pub(crate) fn interleave(
    rounds: usize,
    cases: usize,
    mut run: impl FnMut(usize) -> f64,
) -> Vec<Summary> {
    let mut ns = vec![Vec::with_capacity(rounds); cases];
    for round in 0..rounds {
        for k in 0..cases {
            let i = (k + round) % cases;
            ns[i].push(run(i));
        }
    }
    ns.into_iter()
        .map(|v| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(0.0, f64::max);
            Summary {
                median: median(v),
                span: (lo, hi),
            }
        })
        .collect()
}

/// Writes the [`interleave`]d results of the cases `names` as `group`'s
/// rows.
pub(crate) fn write_interleaved(group: &str, names: &[&str], results: &[Summary], runs: usize) {
    let rows: Vec<Row<'_>> = names
        .iter()
        .zip(results)
        .map(|(name, s)| Row {
            name,
            ns: s.median,
            span: Some(s.span),
            runs,
        })
        .collect();
    write(group, &rows);
}

/// One case: its median, the fastest and slowest round if kept, and how
/// many rounds the median is of.
pub(crate) struct Row<'a> {
    pub(crate) name: &'a str,
    pub(crate) ns: f64,
    pub(crate) span: Option<(f64, f64)>,
    pub(crate) runs: usize,
}

/// Writes `rows` as `group`'s results (best effort: a bench run does not
/// fail because its report cannot be written).
pub(crate) fn write(group: &str, rows: &[Row<'_>]) {
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            let span = r.span.map_or_else(String::new, |(lo, hi)| {
                format!(", \"min_ns\": {lo:.1}, \"max_ns\": {hi:.1}")
            });
            format!(
                "{{\"group\": \"{group}\", \"name\": \"{}\", \"ns_per_iter\": {:.1}{span}, \"elements\": null, \"runs\": {}}}",
                r.name, r.ns, r.runs
            )
        })
        .collect();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-python");
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(
        format!("{dir}/{group}.json"),
        format!("[{}]\n", json.join(",\n ")),
    );
}
