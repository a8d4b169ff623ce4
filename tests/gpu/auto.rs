//! `--backend auto --adapter NAME` on a real adapter: the trial times a step on the adapter and
//! on the CPU, says so on stderr with both times, trains on the one it names, and the run equals
//! the same run on that backend chosen by hand (the trial's steps leave no trace).

use libtest_mimic::Failed;

use crate::Ctx;

fn train(
    backend: &str,
    adapter: &str,
    out: &std::path::Path,
) -> Result<(serde_json::Value, String), Failed> {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_wavetrain"))
        .args(["train", "--preset", "paper-mlp", "--epochs", "1", "--json"])
        .args([
            "--no-pictures",
            "--backend",
            backend,
            "--adapter",
            adapter,
            "--out",
        ])
        .arg(out)
        .output()?;
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    if !o.status.success() {
        return Err(format!("{backend}: exit {:?}: {stderr}", o.status.code()).into());
    }
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    Ok((serde_json::from_str(&line)?, stderr))
}

pub fn auto_trial_on_an_adapter(ctx: &Ctx) -> Result<(), Failed> {
    let name = ctx.adapter().name.clone();
    let dir = std::env::temp_dir().join(format!("wavetrain-gpu-auto-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (auto, stderr) = train("auto", &name, &dir.join("auto"))?;
    let said = stderr
        .lines()
        .find(|l| l.starts_with("auto: one training step took"))
        .ok_or_else(|| format!("auto printed no trial: {stderr}"))?;
    if !(said.contains(" ms on gpu (") && said.contains(" ms on the CPU")) {
        return Err(format!("the trial should name both times: {said}").into());
    }
    let winner = if said.ends_with("training on the GPU") {
        "gpu"
    } else if said.ends_with("training on the CPU") {
        "cpu"
    } else {
        return Err(format!("no decision in: {said}").into());
    };
    let backend = auto["backend"].as_str().unwrap_or_default().to_string();
    if !backend.starts_with(winner) {
        return Err(format!("auto said {winner} but trained on {backend}").into());
    }
    let (by_hand, _) = train(winner, &name, &dir.join("by-hand"))?;
    for key in ["train_loss", "train_accuracy", "test_accuracy"] {
        if auto[key] != by_hand[key] {
            return Err(format!(
                "{key}: auto {} vs --backend {winner} {}: the trial changed the run",
                auto[key], by_hand[key]
            )
            .into());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
