"""Networks composed in Python (wavetrain.compose, Network.from_elements): the same config and
the same readout, bit for bit, as the built-in TOML presets; the TOML round trip; errors that
name the Python element; the [hardware] and [twin] keys passed through."""

import inspect

import numpy as np
import pytest

import wavetrain as wt


def d2nn_mnist():
    """src/presets/d2nn-mnist.toml, composed in Python."""
    els = [wt.FreeSpace(distance=3e-3)]
    for i in range(5):
        els += [wt.Phase(init_std=0.0), wt.FreeSpace(distance=3e-3)]
        if i < 4:
            els.append(wt.Absorber(od=3.0, model="thin"))
    return wt.Network.from_elements(
        els,
        grid=(64, 64),
        pitch=8e-6,
        wavelength=780e-9,
        padding=2.0,
        band_limit=True,
        input=wt.Input(intensity=100.0, size=40),
        readout=wt.Readout(classes=10, detector_size=6, loss="cross-entropy", temperature=0.05),
        train=wt.Train(optimizer="adam", lr=0.05, batch=64, epochs=5, seed=0, gradient="optical"),
        name="d2nn-mnist",
    )


def paper_mlp():
    """src/presets/paper-mlp.toml (a dense network, no [optics]), composed in Python."""
    return wt.Network.from_elements(
        [wt.Dense(128, gain=1.5), wt.Absorber(10.0), wt.Dense(128, gain=2.0), wt.Absorber(10.0),
         wt.Dense(10, gain=0.25)],
        input={"intensity": 1.0, "size": 28},
        readout=wt.Readout(classes=10, loss="mse"),
        train={"lr": 5e-4, "epochs": 20},
        name="paper-mlp",
    )


@pytest.mark.parametrize("preset,composed", [("d2nn-mnist", d2nn_mnist), ("paper-mlp", paper_mlp)])
def test_a_composed_preset_is_the_preset_bit_for_bit(preset, composed, test_images):
    net, ref = composed(), wt.Network.preset(preset)
    assert net.config == ref.config
    assert net.toml == ref.toml
    images = test_images[np.random.default_rng(3).choice(len(test_images), 6, replace=False)]
    assert np.array_equal(net.forward(images), ref.forward(images))
    x = np.random.default_rng(4).random((3, *net.input_shape), dtype=np.float32)
    assert np.array_equal(net.forward(x), ref.forward(x))


def test_the_toml_round_trips():
    net = wt.Network.from_elements(
        [wt.FreeSpace(1e-3), wt.Amplitude(macro_pixel=2, init=0.5), wt.Lens(focal_length=5e-3),
         wt.FreeSpace(5e-3), wt.Phase(init_std=0.3), wt.Absorber(2.0, model="beer-lambert"),
         wt.Fourier(focal_length=4e-3)],
        grid=32, pitch=10e-6, wavelength=800e-9, padding=1.5,
        input=wt.Input(intensity=5.0, size=16),
        readout=wt.Readout(classes=4, regions=[(2, 2, 4, 4), {"x0": 20, "y0": 2, "w": 4, "h": 4},
                                               (2, 20, 4, 4), (20, 20, 4, 4)]),
        train=wt.Train(seed=11, target="model"),
        hardware=wt.Hardware(seed=2, shift_std=2e-6, distance_std=20e-6),
        name="round-trip",
    )
    again = wt.Network.from_toml(net.toml)
    assert again.config == net.config and again.toml == net.toml
    x = np.random.default_rng(0).random((2, 32, 32)).astype(np.float32)
    assert np.array_equal(again.forward(x), net.forward(x))
    # The text compose_toml writes is what from_elements validates.
    text = wt.compose_toml([wt.FreeSpace(2e-3), wt.Phase(), wt.FreeSpace(2e-3)], grid=(16, 16),
                           input=wt.Input(intensity=1.0, size=8), readout={"detector_size": 2})
    assert "[[elements]]\ntype = \"free-space\"\ndistance = 0.002\n" in text
    assert wt.Network.from_toml(text).config["optics"]["nx"] == 16


REQUIRED = {wt.FreeSpace: "distance = 1e-3", wt.Lens: "focal_length = 2e-3",
            wt.Fourier: "focal_length = 2e-3", wt.Absorber: "od = 2.0", wt.Dense: "out = 10"}
ARGS = {wt.FreeSpace: (1e-3,), wt.Lens: (2e-3,), wt.Fourier: (2e-3,), wt.Absorber: (2.0,),
        wt.Dense: (10,)}


@pytest.mark.parametrize("cls", [wt.Phase, wt.Amplitude, wt.FreeSpace, wt.Lens, wt.Fourier,
                                 wt.Dense, wt.Relu, wt.Absorber], ids=lambda c: c.__name__)
def test_each_elements_defaults_are_the_configs(cls):
    # The class with only its required arguments gives the config of the TOML table with only
    # the type and those keys: Python's defaults are the library's.
    element = cls(*ARGS.get(cls, ()))
    dense = cls in (wt.Dense, wt.Relu)
    if dense:
        els, grid = [wt.Dense(16), element, wt.Dense(10)], 64
    else:
        els, grid = [wt.FreeSpace(1e-3), wt.Phase(), element, wt.FreeSpace(1e-3)], 16
    table = element.table()
    text = wt.compose_toml(els, grid=grid, input=wt.Input(intensity=1.0, size=8),
                           readout=wt.Readout(detector_size=2))
    bare = f'[[elements]]\ntype = "{table["type"]}"\n' + (REQUIRED.get(cls, "") + "\n").lstrip()
    assert element.toml in text
    text = text.replace(element.toml, bare)
    assert wt.Network.from_elements(els, grid=grid, input=wt.Input(intensity=1.0, size=8),
                                    readout=wt.Readout(detector_size=2)).config == \
        wt.Network.from_toml(text).config
    # Input, Readout and Train with their defaults are the config's too.
    assert wt.Network.from_toml(text).config == wt.Network.from_toml(
        text.replace("[train]", "[train-unused]") if "[train]" in text else text).config


def test_sections_defaults_are_the_configs():
    els = [wt.FreeSpace(1e-3), wt.Phase(), wt.FreeSpace(1e-3)]
    net = wt.Network.from_elements(els, grid=32, input=wt.Input(intensity=1.0), readout=wt.Readout(
        detector_size=2), train=wt.Train(), hardware=wt.Hardware())
    text = ('[optics]\nwavelength = 780e-9\npitch = 8e-6\nnx = 32\nny = 32\n[input]\nintensity = 1.0\n[readout]\ndetector_size = 2\n'
            '[[elements]]\ntype = "free-space"\ndistance = 1e-3\n[[elements]]\ntype = "phase"\n'
            '[[elements]]\ntype = "free-space"\ndistance = 1e-3\n')
    assert net.config == wt.Network.from_toml(text).config


def test_an_unknown_argument_is_a_type_error_naming_the_class_and_the_argument():
    with pytest.raises(TypeError, match=r"FreeSpace: unknown argument 'distanse' \(did you mean 'distance'\?\)"):
        wt.FreeSpace(distanse=3e-3)
    with pytest.raises(TypeError, match=r"Absorber: unknown argument 'alpha'"):
        wt.Absorber(od=3.0, alpha=1)
    with pytest.raises(TypeError, match=r"Hardware: unknown argument 'shift'"):
        wt.Hardware(shift=1e-6)
    with pytest.raises(TypeError, match=r"Readout: unknown argument 'detectors'"):
        wt.Network.from_elements([wt.Phase()], input=wt.Input(intensity=1.0),
                                 readout={"detectors": 4})
    with pytest.raises(TypeError, match=r"Relu: 1 positional arguments given"):
        wt.Relu(1)
    with pytest.raises(TypeError, match=r"FreeSpace: missing the argument 'distance'"):
        wt.FreeSpace()
    with pytest.raises(TypeError, match=r"FreeSpace: distance must be a number, got '3mm'"):
        wt.FreeSpace("3mm")
    with pytest.raises(TypeError, match=r"elements\[1\] must be an element"):
        wt.Network.from_elements([wt.Phase(), "free-space"], input=wt.Input(intensity=1.0))
    # The signature shown by help() and the API reference is the fields'.
    assert str(inspect.signature(wt.Absorber)) == "(od, *, model='thin')"


def field(*middle, **kw):
    kw.setdefault("readout", wt.Readout(detector_size=2))
    return wt.Network.from_elements([wt.FreeSpace(1e-3), wt.Phase(), *middle, wt.FreeSpace(1e-3)],
                                    grid=16, input=wt.Input(intensity=1.0, size=8), **kw)


def test_a_refused_value_names_the_element_index_class_and_field():
    # A validation error of the library (elements[3].distance) ...
    with pytest.raises(wt.ConfigError) as e:
        field(wt.Absorber(3.0), wt.FreeSpace(distance=-1e-3))
    assert str(e.value).startswith("invalid elements[3] (FreeSpace).distance: must be a positive length")
    assert isinstance(e.value, ValueError)
    with pytest.raises(wt.ConfigError, match=r"elements\[2\] \(Absorber\)\.od: optical depth"):
        field(wt.Absorber(-3.0))
    # ... and a parse error, which TOML places at the list of elements: found by the element.
    with pytest.raises(wt.ConfigError, match=r"^invalid elements\[2\] \(Absorber\)\.model: unknown variant `thinn`"):
        field(wt.Absorber(3.0, model="thinn"))
    with pytest.raises(wt.ConfigError, match=r"^invalid elements\[2\] \(Phase\)\.macro_pixel: invalid value: integer `-1`"):
        field(wt.Phase(macro_pixel=-1))
    with pytest.raises(wt.ConfigError, match=r"^invalid readout\.loss: unknown variant `mean-square`"):
        field(readout=wt.Readout(loss="mean-square"))
    with pytest.raises(wt.ConfigError, match=r"^invalid hardware\.camera_bits: invalid value: integer `-8`"):
        field(hardware=wt.Hardware(camera_bits=-8))
    with pytest.raises(wt.ConfigError, match=r"^invalid optics\.nx: invalid value: integer `-16`"):
        wt.Network.from_elements([wt.Phase()], grid=(-16, 16), input=wt.Input(intensity=1.0))


def test_hardware_and_twin_keys_pass_through():
    hw = wt.Hardware(seed=5, shifts=np.array([[1e-6, -2e-6]]), distance_errors=[1e-5, -1e-5],
                     phase_bits=np.int64(6), fringing=np.float32(0.5), shot_noise=1e4,
                     readout="phase-stepping", readout_steps=4)
    twin = wt.Twin(shifts=[[0.5e-6, 0.0]], distance_std=1e-5, fill_factor=0.9)
    net = field(hardware=hw, twin=twin, train=wt.Train(target="physics-aware"))
    cfg = net.config
    assert cfg["hardware"]["seed"] == 5 and cfg["hardware"]["shifts"] == [[1e-6, -2e-6]]
    assert cfg["hardware"]["distance_errors"] == [1e-5, -1e-5]
    assert cfg["hardware"]["phase_bits"] == 6 and cfg["hardware"]["fringing"] == 0.5
    assert cfg["hardware"]["shot_noise"] == 1e4 and cfg["hardware"]["readout"] == "phase-stepping"
    assert cfg["twin"]["shifts"] == [[0.5e-6, 0.0]] and cfg["twin"]["fill_factor"] == 0.9
    assert cfg["twin"]["distance_std"] == 1e-5 and cfg["train"]["target"] == "physics-aware"
    assert "[hardware]\nseed = 5\n" in net.toml and "[twin]\n" in net.toml
    # Dicts work as well as the classes; the twin takes fixed options only (the library says so).
    assert field(hardware={"seed": 5}).config["hardware"]["seed"] == 5
    with pytest.raises(wt.ConfigError, match=r"twin"):
        field(twin=wt.Twin(shot_noise=1e4))
