//! Pictures of the pump and probe fields at every plane of a trained network for one digit.
//!
//! Trains `d2nn-mnist` briefly (or loads `--checkpoint FILE` given as the first argument), sends
//! one test digit through it, injects the probe for its label, and writes
//! `out/field_gallery.png`: for every element, the pump intensity leaving it and the probe
//! intensity leaving it on the way back.
//!
//! Run: `cargo run --release --example field_gallery [-- path/to/checkpoint.safetensors]`

use num_complex::Complex32;
use wavetrain::cpu::CpuField;
use wavetrain::plot::{panels, Panel};

fn main() -> wavetrain::Result<()> {
    let (train_set, test_set) =
        wavetrain::data::read_dir(&wavetrain::data::idx::bundled_dir(), 10)?;
    let (cfg, state) = match std::env::args().nth(1) {
        Some(p) => {
            let ck = wavetrain::checkpoint::Checkpoint::load(std::path::Path::new(&p))?;
            (ck.config().clone(), ck.state)
        }
        None => {
            let cfg = wavetrain::presets::preset("d2nn-mnist")?;
            let network = cfg.resolve()?;
            let mut net =
                CpuField::<f32>::new(&network, &network.field("gallery")?.initial_state(0))?;
            let (nx, ny, b) = (cfg.optics.nx, cfg.optics.ny, cfg.train.batch);
            let mut input = vec![0.0f32; b * nx * ny];
            for start in (0..1024).step_by(b) {
                let idx: Vec<usize> = (start..start + b).collect();
                wavetrain::data::encode_batch(
                    &train_set.images,
                    &idx,
                    nx,
                    ny,
                    cfg.input.size,
                    cfg.input.intensity,
                    &mut input,
                );
                let labels: Vec<u8> = idx.iter().map(|&i| train_set.labels[i]).collect();
                net.train_step(&input, &labels);
            }
            (cfg.clone(), net.state())
        }
    };
    let network = cfg.resolve()?;
    let mut net = CpuField::<f32>::new(&network, &state)?;
    let (nx, ny) = (cfg.optics.nx, cfg.optics.ny);
    let mut input = vec![0.0f32; nx * ny];
    wavetrain::data::encode_batch(
        &test_set.images,
        &[0],
        nx,
        ny,
        cfg.input.size,
        cfg.input.intensity,
        &mut input,
    );
    let n = net.plan().pump.len();
    let mut pump: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut probe: Vec<Vec<f64>> = vec![Vec::new(); n];
    let intensity = |f: &[Complex32]| f.iter().map(|v| v.norm_sqr() as f64).collect::<Vec<f64>>();
    net.forward(&input, Some(&mut |i, f| pump[i] = intensity(f)));
    net.loss(&[test_set.labels[0]]);
    net.backward(Some(&mut |i, f| probe[i] = intensity(f)));
    let names: Vec<String> = (0..n)
        .map(|i| network.element_name(i).unwrap_or("element").to_string())
        .collect();
    let mut ps = vec![Panel {
        title: format!("input, digit {}", test_set.labels[0]),
        data: &[],
        nx,
        ny,
        cyclic: false,
    }];
    let inp: Vec<f64> = input.iter().map(|&a| (a as f64).powi(2)).collect();
    ps[0].data = &inp;
    for i in 0..n {
        ps.push(Panel {
            title: format!("pump after {}", &names[i]),
            data: &pump[i],
            nx,
            ny,
            cyclic: false,
        });
    }
    for i in 0..n {
        if !probe[i].is_empty() {
            ps.push(Panel {
                title: format!("probe after {}", &names[i]),
                data: &probe[i],
                nx,
                ny,
                cyclic: false,
            });
        }
    }
    std::fs::create_dir_all("out").map_err(|e| wavetrain::Error::io("out", e))?;
    let path = std::path::Path::new("out/field_gallery.png");
    panels(
        path,
        &format!(
            "{}: pump (forward) and probe (backward) intensity at every plane",
            cfg.name
        ),
        &ps,
        6,
    )?;
    println!("wrote {}", path.display());
    Ok(())
}
