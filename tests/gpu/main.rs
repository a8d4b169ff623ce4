//! GPU kernels against the CPU engine (f32), on seeded random non-zero inputs, with GPU outputs
//! poisoned with NaN before each run; one module per kernel (named after shaders/ and src/gpu/),
//! plus a kernel chain, the device context, and whole networks on the GPU backend against the
//! CPU backend.
//!
//! Custom harness (libtest-mimic): when no GPU adapter can be opened every GPU trial is reported
//! *ignored*, never passed, unless `WAVETRAIN_REQUIRE_GPU=1`, in which case each fails saying why.
//! Software adapters (Mesa lavapipe) are allowed here; `WAVETRAIN_ADAPTER` picks one by name.
#[path = "../common/mod.rs"]
mod common;
mod support;

mod absorber;
mod auto;
mod chain;
mod context;
mod copy;
mod detect;
mod fft;
mod hardware;
mod lens;
mod matmul;
mod modulate;
mod network;
mod optimizer;
mod propagate;
mod rng;
mod traffic;

use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use wavetrain::gpu::GpuContext;

use support::request;

/// The context shared by the GPU trials.
pub type Ctx = Arc<GpuContext>;
type TestFn = fn(&Ctx) -> Result<(), Failed>;

/// Every GPU trial, by name.
fn tests() -> Vec<(&'static str, TestFn)> {
    vec![
        ("rng_matches_cpu", rng::rng_matches_cpu),
        ("fft_16x16", fft::fft_16x16),
        ("fft_64x32", fft::fft_64x32),
        ("fft_32x128", fft::fft_32x128),
        ("fft_1024x1024", fft::fft_1024x1024),
        ("fft_every_size", fft::fft_every_size),
        ("fft_global_memory_path", fft::fft_global_memory_path),
        (
            "fft_refuses_non_power_of_two",
            fft::fft_refuses_non_power_of_two,
        ),
        ("propagate_16x16", propagate::propagate_16x16),
        ("propagate_64x32", propagate::propagate_64x32),
        ("propagate_1024x1024", propagate::propagate_1024x1024),
        (
            "propagate_global_memory_path",
            propagate::propagate_global_memory_path,
        ),
        (
            "propagate_non_power_of_two_padding_matches_cpu",
            propagate::propagate_non_power_of_two_padding_matches_cpu,
        ),
        (
            "propagate_masked_matches_cpu",
            propagate::propagate_masked_matches_cpu,
        ),
        (
            "propagate_masked_global_memory_path",
            propagate::propagate_masked_global_memory_path,
        ),
        (
            "propagate_absorbed_matches_cpu",
            propagate::propagate_absorbed_matches_cpu,
        ),
        (
            "propagate_absorbed_global_memory_path",
            propagate::propagate_absorbed_global_memory_path,
        ),
        ("lens2f_64x64", lens::lens2f_64x64),
        ("lens2f_64x32", lens::lens2f_64x32),
        ("modulate_phase_64x32_k1", modulate::modulate_phase_64x32_k1),
        ("modulate_phase_16x16_k4", modulate::modulate_phase_16x16_k4),
        (
            "modulate_amplitude_64x32_k2",
            modulate::modulate_amplitude_64x32_k2,
        ),
        ("thin_lens_64x64", modulate::thin_lens_64x64),
        ("slm_phase_grad_64x32_k2", modulate::slm_phase_grad_64x32_k2),
        (
            "slm_amplitude_grad_16x16_k1",
            modulate::slm_amplitude_grad_16x16_k1,
        ),
        (
            "slm_phase_grad_1024x1024_k8",
            modulate::slm_phase_grad_1024x1024_k8,
        ),
        ("absorber_thin", absorber::absorber_thin),
        ("absorber_beer_lambert", absorber::absorber_beer_lambert),
        ("detect_and_probe_64x32", detect::detect_and_probe_64x32),
        ("matmul_small", matmul::matmul_small),
        ("matmul_large", matmul::matmul_large),
        ("optimizers", optimizer::optimizers),
        ("copy_kernel", copy::copy_kernel),
        ("timestamps_time_a_copy", context::timestamps_time_a_copy),
        ("chain_pump_and_probe", chain::chain_pump_and_probe),
        ("auto_trial_on_an_adapter", auto::auto_trial_on_an_adapter),
        (
            "traffic_propagate_is_at_the_floor",
            traffic::traffic_propagate_is_at_the_floor,
        ),
        (
            "traffic_train_step_is_counted",
            traffic::traffic_train_step_is_counted,
        ),
        (
            "traffic_masked_propagate_saves_the_modulate",
            traffic::traffic_masked_propagate_saves_the_modulate,
        ),
        (
            "traffic_absorbed_propagate_saves_the_pump",
            traffic::traffic_absorbed_propagate_saves_the_pump,
        ),
        (
            "traffic_fused_masks_lower_the_step",
            traffic::traffic_fused_masks_lower_the_step,
        ),
        (
            "backend_train_step_matches_cpu",
            network::backend_train_step_matches_cpu,
        ),
        (
            "hardware_imperfections_match_cpu",
            hardware::imperfections_match_cpu,
        ),
        ("hardware_noise_matches_cpu", hardware::noise_matches_cpu),
        ("hardware_vjp_matches_cpu", hardware::vjp_matches_cpu),
        (
            "hardware_readout_matches_cpu",
            hardware::readout_matches_cpu,
        ),
        (
            "hardware_readout_cli_training_matches_cpu",
            hardware::readout_cli_training_matches_cpu,
        ),
        (
            "hardware_shift_on_odd_grid_is_refused",
            hardware::shift_on_odd_grid_is_refused,
        ),
        ("spsa_matches_cpu", network::spsa_matches_cpu),
        (
            "dense_cli_training_matches_cpu",
            network::dense_cli_training_matches_cpu,
        ),
        ("adapters_and_limits", context::adapters_and_limits),
        (
            "batch_too_large_is_refused",
            context::batch_too_large_is_refused,
        ),
        (
            "validation_error_is_a_clear_error",
            context::validation_error_is_a_clear_error,
        ),
        (
            "device_lost_is_a_clear_error",
            network::device_lost_is_a_clear_error,
        ),
    ]
}

/// What to do with GPU trials given whether a context could be opened.
#[derive(Debug, PartialEq)]
enum Plan {
    Run,
    Ignore,
    Fail(String),
}

fn plan(ctx: &Result<Ctx, String>, require: bool) -> Plan {
    match (ctx, require) {
        (Ok(_), _) => Plan::Run,
        (Err(_), false) => Plan::Ignore,
        (Err(e), true) => Plan::Fail(format!(
            "WAVETRAIN_REQUIRE_GPU=1 but no GPU adapter could be opened: {e}"
        )),
    }
}

fn main() {
    let args = Arguments::from_args();
    let require = std::env::var("WAVETRAIN_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let req = request();
    let ctx: Result<Ctx, String> = GpuContext::new(&req)
        .map(Arc::new)
        .map_err(|e| e.to_string());
    if let Ok(c) = &ctx {
        eprintln!(
            "GPU tests on '{}' ({})",
            c.adapter().name,
            c.adapter().backend
        );
    }
    let p = plan(&ctx, require);
    let mut trials: Vec<Trial> = tests()
        .into_iter()
        .map(|(name, f)| {
            let ctx = ctx.clone();
            let fail = match &p {
                Plan::Fail(m) => Some(m.clone()),
                _ => None,
            };
            Trial::test(name, move || match (&ctx, fail) {
                (_, Some(m)) => Err(m.into()),
                (Ok(c), None) => f(c),
                (Err(e), None) => Err(format!("no GPU adapter: {e}").into()),
            })
            .with_ignored_flag(p == Plan::Ignore)
        })
        .collect();
    trials.extend(harness_trials());
    libtest_mimic::run(&args, trials).exit();
}

/// Trials of the harness itself; they need no GPU. The subprocess trials re-run this binary on
/// one GPU trial with an adapter name that matches nothing, i.e. a machine without a usable GPU.
fn harness_trials() -> Vec<Trial> {
    vec![
        Trial::test("harness::plan", || {
            assert_eq!(plan(&Err("none".into()), false), Plan::Ignore);
            assert!(
                matches!(plan(&Err("none".into()), true), Plan::Fail(m) if m.contains("WAVETRAIN_REQUIRE_GPU=1") && m.contains("none"))
            );
            Ok(())
        }),
        Trial::test("harness::no_adapter_is_ignored", || {
            let (ok, out) = run_self(false)?;
            assert!(ok, "exit status: failure\n{out}");
            assert!(
                out.contains("fft_16x16 ... ignored") && out.contains("1 ignored"),
                "{out}"
            );
            Ok(())
        }),
        Trial::test("harness::no_adapter_fails_when_required", || {
            let (ok, out) = run_self(true)?;
            assert!(!ok, "exit status: success\n{out}");
            assert!(
                out.contains("fft_16x16 ... FAILED") && out.contains("WAVETRAIN_REQUIRE_GPU=1"),
                "{out}"
            );
            Ok(())
        }),
    ]
}

fn run_self(require: bool) -> Result<(bool, String), Failed> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["fft_16x16", "--exact", "--test-threads", "1"])
        .env("WAVETRAIN_ADAPTER", "no-such-adapter-for-the-harness-test");
    if require {
        cmd.env("WAVETRAIN_REQUIRE_GPU", "1");
    } else {
        cmd.env_remove("WAVETRAIN_REQUIRE_GPU");
    }
    let out = cmd.output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}
