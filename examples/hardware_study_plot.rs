//! The plot of an in-situ / in-silico study (issue 18): one of the accuracies of a `sweep.csv`
//! (default `hardware_accuracy`) against its first axis, one curve per value of the other
//! non-seed axes (e.g. `train.target`), seeds averaged with error bars, drawn by the sweep's own
//! plot.
//!
//!     cargo run --release --example hardware_study_plot -- SWEEP.csv OUT.png TITLE [COLUMN]
use std::path::Path;

use wavetrain::sweep::{plot_metric, Axis, Metric, Row};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: hardware_study_plot SWEEP.csv OUT.png TITLE [COLUMN]".into());
    }
    let column = args
        .get(4)
        .map(String::as_str)
        .unwrap_or("hardware_accuracy");
    let text = std::fs::read_to_string(&args[1])?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().ok_or("empty sweep.csv")?.split(',').collect();
    let n_axes = head
        .iter()
        .position(|h| *h == "test_accuracy")
        .ok_or("no test_accuracy column")?;
    let col = head
        .iter()
        .position(|h| *h == column)
        .ok_or_else(|| format!("no {column} column"))?;
    let metric = Metric::of_column(column).ok_or_else(|| {
        format!("{column}: use test_accuracy, model_accuracy or hardware_accuracy")
    })?;
    let mut axes: Vec<Axis> = head[..n_axes]
        .iter()
        .map(|k| Axis {
            key: k.to_string(),
            values: Vec::new(),
        })
        .collect();
    let mut rows = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        for (a, v) in axes.iter_mut().zip(&f) {
            if !a.values.iter().any(|x| x == v) {
                a.values.push(v.to_string());
            }
        }
        let acc: f64 = f[col].parse()?;
        rows.push(Row {
            values: f[..n_axes].iter().map(|s| s.to_string()).collect(),
            test_accuracy: acc,
            model_accuracy: Some(acc),
            hardware_accuracy: Some(acc),
            train_accuracy: 0.0,
            train_loss: 0.0,
            seconds: 0.0,
            images_per_second: 0.0,
            run_dir: String::new(),
        });
    }
    plot_metric(Path::new(&args[2]), &args[3], &axes, &rows, metric)?;
    Ok(())
}
