"""Every public name of the package has a docstring, and each states the units of what it takes
and returns: the API reference (pdoc, built by scripts/test.sh into target/doc-python) is made
from these docstrings and the `.pyi` stubs, so a name without one would be a blank entry there.
"""

import ast
import inspect
import pathlib

import pytest

import wavetrain as wt

# A parameter with a physical unit, and the text its docstring must contain to state that unit.
PARAMETER_UNITS = {
    "pitch": "(m)",
    "wavelength": "(m)",
    "distance": "(m",  # "(m)" or "(m; negative: backwards)"
    "od": "α₀",
    "checkpoint_every": "seconds",
    "lr": "step size",
}
# What a function or property returns, and the units its docstring must name.
RETURN_UNITS = {
    "propagate": ["I/I_sat"],
    "absorber": ["I_sat", "dimensionless"],
    "sampling": ["cycles/m", "(m)"],
    "Network.forward": ["I_sat·m²", "√I_sat"],
    "Network.encode": ["I_sat"],
    "Network.planes": ["I/I_sat", "(m"],
    "Network.params": ["rad", "dimensionless"],
    "Network.gradients": ["per rad"],
}


def public_names():
    """(qualified name, object) of every public function, class, method and property."""
    out = []
    for name in wt.__all__:
        obj = getattr(wt, name)
        out.append((name, obj))
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                out.append((f"{name}.{attr}", member))
    return out


def doc_of(obj) -> str:
    for unwrap in ("__func__", "fget"):
        obj = getattr(obj, unwrap, obj)
    return inspect.getdoc(obj) or ""


@pytest.mark.parametrize("name,obj", public_names(), ids=[n for n, _ in public_names()])
def test_public_name_has_a_docstring(name, obj):
    doc = doc_of(obj)
    assert len(doc.split()) >= 3, f"wavetrain.{name} has no docstring (or a stub of one): {doc!r}"


@pytest.mark.parametrize("name,obj", public_names(), ids=[n for n, _ in public_names()])
def test_physical_parameters_state_their_units(name, obj):
    func = getattr(obj, "__func__", obj)
    if not callable(func) or inspect.isclass(func):
        return
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        pytest.fail(f"wavetrain.{name}: no signature (give the extension function a text_signature)")
    doc = doc_of(obj)
    for p in params:
        unit = PARAMETER_UNITS.get(p)
        if unit is not None:
            assert unit in doc, f"wavetrain.{name}: the docstring does not give the unit of {p} ({unit!r})"


@pytest.mark.parametrize("name", sorted(RETURN_UNITS))
def test_results_state_their_units(name):
    obj = wt
    for part in name.split("."):
        obj = getattr(obj, part)
    doc = doc_of(obj)
    for unit in RETURN_UNITS[name]:
        assert unit in doc, f"wavetrain.{name}: the docstring does not name the unit {unit!r}"


def test_the_unit_check_fails_on_a_docstring_without_units():
    # The check above cannot pass vacuously: a function taking a distance with a docstring that
    # does not give its unit is caught, and the same with the unit given passes.
    def bare(distance):
        """Propagates the field over the distance given."""

    def with_unit(distance):
        """Propagates the field over ``distance`` (m)."""

    with pytest.raises(AssertionError, match="unit of distance"):
        test_physical_parameters_state_their_units("bare", bare)
    test_physical_parameters_state_their_units("with_unit", with_unit)
    with pytest.raises(AssertionError, match="no docstring"):
        test_public_name_has_a_docstring("nodoc", lambda x: x)


def test_every_public_stub_has_a_docstring():
    # pdoc reads signatures (and, for the extension, docstrings) from _core.pyi: every public
    # function, class, method and property there has one (for overloads, one of them).
    pyi = pathlib.Path(wt.__file__).parent / "_core.pyi"
    tree = ast.parse(pyi.read_text(encoding="utf-8"))
    documented, seen = set(), set()

    def visit(body, prefix=""):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                q = prefix + node.name
                seen.add(q)
                if ast.get_docstring(node):
                    documented.add(q)
                if isinstance(node, ast.ClassDef):
                    visit(node.body, q + ".")

    visit(tree.body)
    assert seen, "no public name found in _core.pyi"
    assert seen == documented, f"without a docstring in _core.pyi: {sorted(seen - documented)}"
