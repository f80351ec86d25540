"""Running the notebooks in ``colab/`` the way the test suite does: their ``#@param`` form fields are
rewritten (Colab's own syntax, ``NAME = value  #@param {...}``) to the small ``QUICK`` settings and an
output folder, then every cell runs in a fresh kernel (nbclient).

``python -m tests.notebooks [NAME...]`` runs the notebooks so and saves them with their outputs, with
the form fields put back to the notebook's own defaults (a note in the settings cell says that the
outputs come from a quick run): what ``colab/*.ipynb`` ship with.
"""

import os
import pathlib
import re
import sys
import tempfile
from typing import Dict, List, Optional

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
COLAB = REPO_ROOT / "colab"
# the form fields each notebook's quick run sets (besides OUT, the output folder)
QUICK: Dict[str, Dict[str, object]] = {
    "evaluation": {"TINY": True},
    "gansynth": {"TINY": True, "MODEL_DIR": "", "TRAIN_DATA": ""},
    "melody_rnn": {"TINY": True, "BUNDLE": "", "MIDI_DIR": ""},
    "music_transformer": {"TINY": True, "CHECKPOINT": "", "PRESET": "", "MIDI_DIR": "", "CONDITIONED_CHECKPOINT": ""},
}
_PARAM = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>.*?)\s*(?P<comment>#\s*@param\b.*)$")


def read(name: str):
    """``colab/NAME.ipynb`` as an nbformat notebook."""
    import nbformat

    return nbformat.read(COLAB / f"{name}.ipynb", as_version=4)


def params(nb) -> Dict[str, str]:
    """``{name: value source}`` of every ``#@param`` form field of the notebook."""
    found = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                m = _PARAM.match(line)
                if m:
                    found[m.group("name")] = m.group("value")
    return found


def set_params(nb, values: Dict[str, object], as_source: bool = False):
    """Rewrites the form fields ``values`` (Python values, or value sources with ``as_source``) in
    place; every name must be a form field of the notebook. Returns the notebook."""
    missing = set(values)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            m = _PARAM.match(line)
            if m and m.group("name") in values:
                value = values[m.group("name")]
                lines[i] = f"{m.group('name')} = {value if as_source else repr(value)}  {m.group('comment')}"
                missing.discard(m.group("name"))
        cell.source = "\n".join(lines)
    assert not missing, f"not #@param form fields of the notebook: {sorted(missing)}"
    return nb


def execute(name: str, out_dir, extra: Optional[Dict[str, object]] = None, timeout: int = 900):
    """Runs ``colab/NAME.ipynb`` with its QUICK settings (and ``extra``), writing into ``out_dir``;
    returns the executed notebook. Environment: the repository on PYTHONPATH, Agg plots, quiet TF."""
    import nbclient

    nb = set_params(read(name), {**QUICK[name], "OUT": str(out_dir), **(extra or {})})
    env = {
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        nbclient.NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(REPO_ROOT)}}
        ).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def outputs(nb) -> list:
    """Every output of every code cell."""
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def run(name: str, out_dir, extra: Optional[Dict[str, object]] = None) -> list:
    """The outputs (:func:`outputs`) of ``colab/NAME.ipynb`` run as :func:`execute` runs it; skips the calling
    test where nbclient is not installed."""
    import pytest

    pytest.importorskip("nbclient")
    return outputs(execute(name, out_dir, extra))


def audio(cell_outputs: list) -> list:
    """The outputs that play audio (an HTML ``<audio>`` element)."""
    return [o for o in cell_outputs if "<audio" in o.get("data", {}).get("text/html", "")]


def images(cell_outputs: list) -> list:
    """The outputs that show a PNG image."""
    return [o for o in cell_outputs if "image/png" in o.get("data", {})]


def markdown(cell_outputs: list) -> List[str]:
    """The Markdown text of the outputs that show Markdown (tables), in order."""
    return [o["data"]["text/markdown"] for o in cell_outputs if "text/markdown" in o.get("data", {})]


def text(cell_outputs: list) -> str:
    """Everything the cells printed, joined."""
    return "".join(o.get("text", "") for o in cell_outputs)


def save_with_outputs(name: str) -> pathlib.Path:
    """Runs the notebook quickly and writes it back with its outputs and its own form defaults."""
    import nbformat

    defaults = params(read(name))
    with tempfile.TemporaryDirectory() as tmp:
        nb = execute(name, pathlib.Path(tmp) / f"{name}_notebook_output")
    set_params(nb, defaults, as_source=True)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    nb.metadata.pop("widgets", None)
    path = COLAB / f"{name}.ipynb"
    nbformat.write(nb, path)
    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB")
    return path


if __name__ == "__main__":
    for notebook in sys.argv[1:] or sorted(QUICK):
        save_with_outputs(notebook)
