"""The example notebook runs from top to bottom (so it cannot rot) and says what it claims."""

import pathlib

import nbclient
import nbformat

NOTEBOOK = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python" / "quickstart.ipynb"


def text_of(nb):
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                out.append(o["text"])
    return "".join(out)


def test_quickstart_notebook_executes(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    committed = text_of(nb)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = text_of(nb)
    images = sum(
        1 for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    )
    assert images >= 6, "the notebook's plots are missing"
    assert "cosine" in text and "epoch 3:" in text and "test accuracy after 3 epochs" in text
    # The last SLM has no absorber after it: its optical gradient is the exact one.
    assert "elements[13] phase SLM   cosine 1.0000" in text
    # The committed notebook holds its outputs (executed), the same run's.
    assert "epoch 3:" in committed and images > 0
    assert committed.split("epoch 1:")[1][:40] == text.split("epoch 1:")[1][:40]


LAB_NOTEBOOK = NOTEBOOK.parent / "lab_in_the_loop.ipynb"


def test_lab_in_the_loop_notebook_executes(tmp_path):
    nb = nbformat.read(LAB_NOTEBOOK, as_version=4)
    committed = text_of(nb)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = text_of(nb)
    images = sum(
        1 for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    )
    assert images >= 1, "the notebook's plot is missing"
    # The stand-in lab is the simulated imperfect system, and with the twin the physics-aware
    # run against it is the simulated one (the same printed losses).
    rel = float(text.split("largest relative difference: ")[1].split()[0])
    assert rel < 1e-9
    lab = [l.split(": ", 1)[1] for l in text.splitlines() if l.startswith("lab epoch")]
    sim = [l.split(": ", 1)[1] for l in text.splitlines() if l.startswith("simulated epoch")]
    assert len(lab) == 3 and lab == sim
    assert committed.split("lab epoch 3:")[1][:30] == text.split("lab epoch 3:")[1][:30]
