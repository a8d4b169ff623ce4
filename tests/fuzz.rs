//! Property tests: the IDX reader, the config parser and the checkpoint reader never panic on
//! arbitrary bytes, truncations, wrong magic or huge declared sizes — they return errors.
//! `PROPTEST_CASES` sets the number of cases (CI uses the default below).
use proptest::prelude::*;
use std::path::Path;

fn idx_header(dims: &[u32]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

fn valid_checkpoint() -> Vec<u8> {
    let cfg = wavetrain::presets::preset("d2nn-mnist").unwrap();
    let network = cfg.resolve().unwrap();
    let state = network.field("test").unwrap().initial_state(1);
    wavetrain::checkpoint::Checkpoint {
        network,
        state,
        progress: Default::default(),
    }
    .to_bytes()
    .unwrap()
}

/// Cases per property: `PROPTEST_CASES` when set (long runs), else 256 (CI).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    #[test]
    fn idx_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let p = Path::new("fuzz.idx");
        let _ = wavetrain::data::idx::parse_images(p, &bytes);
        let _ = wavetrain::data::idx::parse_labels(p, &bytes, 10);
        let _ = wavetrain::data::idx::read_idx(p, &bytes[..], 3);
        let _ = wavetrain::data::idx::read_idx(p, &bytes[..], 1);
        let _ = wavetrain::data::idx::decode_maybe_gz(p, bytes);
    }

    #[test]
    fn idx_huge_declared_sizes_are_rejected(d0 in any::<u32>(), d1 in any::<u32>(), d2 in any::<u32>(), extra in 0usize..64) {
        let mut b = idx_header(&[d0, d1, d2]);
        b.extend(std::iter::repeat_n(1u8, extra));
        let r = wavetrain::data::idx::parse_images(Path::new("f"), &b);
        let exact = (d0 as u64) * (d1 as u64) * (d2 as u64) == extra as u64;
        prop_assert!(r.is_ok() == (exact && d1 > 0 && d2 > 0 && d1 <= 4096 && d2 <= 4096));
    }

    #[test]
    fn gzip_garbage_is_an_error(tail in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut b = vec![0x1f, 0x8b];
        b.extend(tail);
        if let Ok(v) = wavetrain::data::idx::decode_maybe_gz(Path::new("g"), b) {
            let _ = wavetrain::data::idx::parse_images(Path::new("g"), &v);
        }
    }

    #[test]
    fn config_parser_never_panics(text in "\\PC{0,300}") {
        let _ = wavetrain::model::Config::from_toml(&text, "fuzz.toml");
    }

    #[test]
    fn mutated_configs_never_panic(pos in 0usize..2000, ch in "[a-z0-9=.\\-\\[\\]\" \n]{1,4}") {
        let good = wavetrain::presets::PRESETS[0].1;
        let pos = pos.min(good.len());
        let mut text = good.to_string();
        if text.is_char_boundary(pos) {
            text.insert_str(pos, &ch);
        }
        if let Ok(cfg) = wavetrain::model::Config::from_toml(&text, "fuzz.toml") {
            // Whatever parses and validates must also plan.
            prop_assert!(cfg.resolve().is_ok());
        }
    }

    #[test]
    fn mutated_dense_configs_never_panic(pos in 0usize..2000, ch in "[a-z0-9=.\\-\\[\\]\" \n]{1,4}", which in 0usize..2) {
        let good = if which == 0 {
            wavetrain::presets::preset_text("paper-mlp")
        } else {
            wavetrain::presets::preset_text("paper-2layer")
        };
        let pos = pos.min(good.len());
        let mut text = good.to_string();
        if text.is_char_boundary(pos) {
            text.insert_str(pos, &ch);
        }
        if let Ok(cfg) = wavetrain::model::Config::from_toml(&text, "fuzz.toml") {
            // Whatever parses and validates must build, and take one step on tiny inputs.
            let net = cfg.resolve();
            prop_assert!(net.is_ok());
            let net = net.unwrap();
            let state = net.initial_state();
            let weights: usize = cfg.dense_dims().iter().map(|(i, o)| i * o).sum();
            if cfg.is_dense() && cfg.input_len() <= 4096 && weights <= 1 << 20 {
                let mut exec = wavetrain::cpu::CpuDense::<f32>::new(&net, &state).unwrap();
                let x = vec![0.5f32; 2 * cfg.input_len()];
                let labels = [0u8, 1];
                exec.train_step(&x, &labels);
            }
        }
    }

    #[test]
    fn checkpoint_reader_never_panics(cut in 0usize..100_000, flip in any::<(usize, u8)>(), garbage in proptest::collection::vec(any::<u8>(), 0..64)) {
        let good = valid_checkpoint();
        let p = Path::new("fuzz.safetensors");
        let _ = wavetrain::checkpoint::Checkpoint::from_bytes(&good[..cut.min(good.len())], p);
        let mut m = good.clone();
        let i = flip.0 % m.len();
        m[i] ^= flip.1 | 1;
        let _ = wavetrain::checkpoint::Checkpoint::from_bytes(&m, p);
        let _ = wavetrain::checkpoint::Checkpoint::from_bytes(&garbage, p);
    }

    #[test]
    fn any_changed_byte_in_the_tensor_data_is_refused(pos in any::<usize>(), x in 1u8..=255) {
        let good = valid_checkpoint();
        let header = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
        let data = 8 + header;
        let mut m = good.clone();
        let i = data + pos % (m.len() - data);
        m[i] ^= x;
        let e = wavetrain::checkpoint::Checkpoint::from_bytes(&m, Path::new("flip.safetensors"));
        prop_assert!(e.is_err(), "byte {} changed and the checkpoint loaded", i);
        prop_assert_eq!(e.unwrap_err().exit_code(), 4);
    }
}

#[test]
fn intact_checkpoint_round_trips() {
    let b = valid_checkpoint();
    let ck = wavetrain::checkpoint::Checkpoint::from_bytes(&b, Path::new("x")).unwrap();
    assert_eq!(ck.config().name, "d2nn-mnist");
    assert_eq!(ck.state.params.len(), 5);
}
