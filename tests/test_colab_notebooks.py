"""The notebooks in colab/ are ready for Colab: an "Open in Colab" badge, a real install cell (apt for
FluidSynth, pip from the repository, the restart note), settings as #@param form fields (no
environment variables), and outputs saved from a real (quick) run, each file under 1 MB. That they run
is tested per family (tests/*/test_notebook.py, through tests/notebooks.py)."""

import pytest

from tests import notebooks

NAMES = sorted(notebooks.QUICK)


def test_every_notebook_is_covered():
    assert NAMES == sorted(p.stem for p in notebooks.COLAB.glob("*.ipynb"))


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_ready_for_colab(name):
    from IPython.core.inputtransformer2 import TransformerManager

    nb = notebooks.read(name)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    badge = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    assert badge + "(https://colab.research.google.com/" in first.source
    code = [c for c in nb.cells if c.cell_type == "code"]
    install = [c for c in code if "pip install" in c.source]
    assert len(install) == 1 and install[0] is code[0], "the install cell comes first"
    src = install[0].source
    assert "!apt-get -qq update && apt-get -qq install -y libfluidsynth3 fluid-soundfont-gm" in src
    assert "!git clone --depth 1 {TFMUSIC_SOURCE} {TFMUSIC_DIR}" in src and "!pip install -q -e {TFMUSIC_DIR}" in src
    assert "restart the runtime" in src and "google.colab" in src  # does nothing outside Colab
    assert "<" not in src.replace("#@", "")  # no <placeholder> to edit by hand
    setup = nb.cells[nb.cells.index(install[0]) - 1]
    assert setup.cell_type == "markdown" and "restart the\nruntime" in setup.source.replace("**", "")
    # settings are form fields, and nothing reads the environment
    fields = notebooks.params(nb)
    assert {"TFMUSIC_SOURCE", "TINY", "OUT"} | set(notebooks.QUICK[name]) <= set(fields)
    assert fields["TINY"] == "False"  # the notebook's own default: the full settings
    assert not [c for c in code if "os.environ" in c.source or "getenv" in c.source]
    for cell in code:  # every cell is valid IPython (shell escapes included)
        compile(TransformerManager().transform_cell(cell.source), name, "exec")
    # saved outputs from a real run, and a small file
    assert sum(1 for c in code if c.get("outputs")) >= len(code) - 1, "outputs not saved"
    assert not [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert (notebooks.COLAB / f"{name}.ipynb").stat().st_size < 1_000_000


def test_set_params_rewrites_form_fields_and_refuses_unknown_names():
    nb = notebooks.read("evaluation")
    notebooks.set_params(nb, {"TINY": True, "OUT": "/tmp/x y"})
    assert notebooks.params(nb)["TINY"] == "True" and notebooks.params(nb)["OUT"] == "'/tmp/x y'"
    assert any("OUT = '/tmp/x y'  #@param {type:\"string\"}" in c.source for c in nb.cells)
    with pytest.raises(AssertionError, match="NOT_A_FIELD"):
        notebooks.set_params(nb, {"NOT_A_FIELD": 1})


def test_set_repository_points_badges_and_install_cells_at_the_published_repository(tmp_path):
    import json
    import shutil
    import subprocess
    import sys

    for path in notebooks.COLAB.glob("*.ipynb"):
        shutil.copy(path, tmp_path / path.name)
    script = notebooks.COLAB / "set_repository.py"
    run = [sys.executable, str(script), "--colab_dir", str(tmp_path)]
    done = subprocess.run([*run, "my-org/tfmusic", "--branch", "dev"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in NAMES:
        original = json.loads((notebooks.COLAB / f"{name}.ipynb").read_text(encoding="utf-8"))
        text = (tmp_path / f"{name}.ipynb").read_text(encoding="utf-8")
        target = f"https://colab.research.google.com/github/my-org/tfmusic/blob/dev/colab/{name}.ipynb"
        rewritten = json.loads(text)
        sources = "\n".join("".join(c["source"]) for c in rewritten["cells"])
        assert f"]({target})" in sources and target in done.stdout
        assert 'TFMUSIC_SOURCE = "https://github.com/my-org/tfmusic"  #@param' in sources
        # nothing else changed: same cells, ids and saved outputs
        assert [c["id"] for c in rewritten["cells"]] == [c["id"] for c in original["cells"]]
        assert [c.get("outputs") for c in rewritten["cells"]] == [c.get("outputs") for c in original["cells"]]
    # a second name replaces the first
    again = subprocess.run([*run, "other/name"], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    text = (tmp_path / "gansynth.ipynb").read_text(encoding="utf-8")
    assert "github/other/name/blob/main/colab/gansynth.ipynb" in text and "my-org" not in text
    # refusals: a malformed name, and a notebook with nothing to rewrite
    bad = subprocess.run([*run, "not a repo"], capture_output=True, text=True)
    assert bad.returncode == 2 and "is not OWNER/NAME" in bad.stderr
    (tmp_path / "plain.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    plain = subprocess.run([*run, "my-org/tfmusic"], capture_output=True, text=True)
    assert plain.returncode != 0 and "plain.ipynb: no an Open in Colab badge" not in plain.stderr
    assert "plain.ipynb: no Open in Colab badge and no TFMUSIC_SOURCE field" in plain.stderr
