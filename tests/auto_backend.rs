//! `--backend auto` decides by measurement: `run::auto_trial` times a training step on the GPU
//! backend it is given and on the CPU, and the faster wins. Here the "GPU" is a stand-in backend
//! whose step takes a set time, so both outcomes are checked on any machine; the real trial on
//! an adapter is tested in tests/gpu (auto_trial_on_an_adapter).

use std::time::Duration;

use wavetrain::backend::Backend;
use wavetrain::loss::LossStats;
use wavetrain::network::State;
use wavetrain::run::{auto_trial, AutoTrial};

/// A backend whose training step sleeps `step`, counting its steps.
struct Sleeper {
    step: Duration,
    steps: usize,
    state: State,
}

impl Backend for Sleeper {
    fn name(&self) -> String {
        "gpu (stand-in)".into()
    }
    fn train_step(&mut self, input: &[f32], labels: &[u8]) -> wavetrain::Result<LossStats> {
        assert!(!input.is_empty() && !labels.is_empty());
        std::thread::sleep(self.step);
        self.steps += 1;
        Ok(LossStats::default())
    }
    fn predict(&mut self, _: &[f32]) -> wavetrain::Result<Vec<f32>> {
        Ok(Vec::new())
    }
    fn state(&mut self) -> wavetrain::Result<State> {
        Ok(self.state.clone())
    }
}

fn trial(step: Duration) -> (AutoTrial, usize) {
    let net = wavetrain::presets::preset("paper-mlp")
        .unwrap()
        .resolve()
        .unwrap();
    let state = net.initial_state();
    let mut g = Sleeper {
        step,
        steps: 0,
        state: state.clone(),
    };
    let t = auto_trial(&mut g, &net, &state).unwrap();
    (t, g.steps)
}

#[test]
fn a_gpu_faster_than_the_cpu_wins() {
    // A paper-mlp step is about a millisecond on the CPU; the stand-in takes none.
    let (t, steps) = trial(Duration::ZERO);
    assert!(t.gpu_wins(), "{t:?}");
    assert!(t.cpu_s > 0.0 && t.gpu_s < t.cpu_s, "{t:?}");
    assert_eq!(steps, 4, "one warm-up and three timed steps");
    let d = t.describe();
    assert!(
        d.contains("training on the GPU") && d.contains("gpu (stand-in)"),
        "{d}"
    );
}

#[test]
fn a_gpu_slower_than_the_cpu_loses() {
    // 300 ms a step: far slower than the CPU's paper-mlp step.
    let (t, _) = trial(Duration::from_millis(300));
    assert!(!t.gpu_wins(), "{t:?}");
    assert!(t.gpu_s >= 0.3, "{t:?}");
    assert!(
        t.describe().contains("training on the CPU"),
        "{}",
        t.describe()
    );
}
