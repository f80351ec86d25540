"""Unsafe-loading drill: no untrusted input is ever unpickled, Keras keeps ``safe_mode``, and no
metagraph is imported.

A static check walks the syntax tree of every module (and every notebook code cell) of the project's
packages and flags:

* ``pickle``/``cPickle``/``dill``/``cloudpickle``/``joblib``/``marshal``/``shelve`` loading, ``read_pickle``;
* ``np.load`` without ``allow_pickle=False`` (literally), and ``allow_pickle=`` anything but ``False``
  in any call;
* ``safe_mode=`` anything but ``True`` in any call, and ``keras.config.enable_unsafe_deserialization()``;
* ``import_meta_graph`` / ``import_scoped_meta_graph``, the TF1 SavedModel ``loader.load`` (which imports
  the metagraph) and parsing a ``MetaGraphDef`` (``.mag`` bundles are read without touching theirs);
* ``yaml.load`` without a safe loader.

``ALLOWED`` lists deliberate exceptions (file, rule) with the reason; it is empty. The checker is itself
tested on snippets holding each pattern, so the check cannot pass by finding nothing.

A behavioural check reads the JSB Chorales through ``music_transformer_ext.jsb`` with every unpickling
entry point booby-trapped.
"""

from __future__ import annotations

import ast
import json
import pathlib
import pickle

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = (
    "tfmusic",
    "pipelines",
    "gansynth_tf",
    "music_eval",
    "melody_rnn_ext",
    "music_transformer_ext",
    "demo",
    "bench",
    "colab",
)
JSB_DIR = REPO.parent / "shared" / "data" / "jsb_chorales"

# (path relative to the repo, rule) -> why it is acceptable. Keep empty unless there is a reason.
ALLOWED: dict = {}

PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "marshal", "shelve"}
PICKLE_LOADERS = {"load", "loads", "Unpickler", "open"}  # shelve.open unpickles too
METAGRAPH_IMPORTS = {"import_meta_graph", "import_scoped_meta_graph"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader"}


def _dotted(node) -> str:
    """``a.b.c`` for a Name/Attribute chain (calls in the chain appear as ``()``), else ''."""
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            return ".".join(reversed(parts))
        elif isinstance(node, ast.Call):
            parts.append("()")
            node = node.func
        else:
            return ".".join(reversed(parts))


def _is_const(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


class _Checker(ast.NodeVisitor):
    def __init__(self):
        self.problems = []  # (line, rule, text)
        self.numpy = set()  # local names of the numpy module
        self.np_load = set()  # local names bound to numpy.load
        self.pickle = set()  # local names of pickle-like modules
        self.pickle_load = set()  # local names bound to their loaders
        self.yaml = set()

    def flag(self, node, rule, text):
        self.problems.append((node.lineno, rule, text))

    # imports
    def visit_Import(self, node):
        for alias in node.names:
            local = alias.asname or alias.name.split(".")[0]
            if alias.name == "numpy":
                self.numpy.add(local)
            elif alias.name in PICKLE_MODULES:
                self.pickle.add(local)
            elif alias.name == "yaml":
                self.yaml.add(local)

    def visit_ImportFrom(self, node):
        for alias in node.names:
            local = alias.asname or alias.name
            if node.module == "numpy" and alias.name == "load":
                self.np_load.add(local)
            elif node.module in PICKLE_MODULES and alias.name in PICKLE_LOADERS:
                self.pickle_load.add(local)
            elif alias.name in METAGRAPH_IMPORTS:
                self.flag(node, "metagraph", f"from {node.module} import {alias.name}")

    def visit_Attribute(self, node):
        if node.attr in METAGRAPH_IMPORTS:
            self.flag(node, "metagraph", _dotted(node))
        if node.attr == "enable_unsafe_deserialization":
            self.flag(node, "keras_safe_mode", _dotted(node))
        if node.attr == "read_pickle":
            self.flag(node, "pickle", _dotted(node))
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        name = _dotted(func)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        # pickle-like loading
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in self.pickle
            and func.attr in PICKLE_LOADERS
        ):
            self.flag(node, "pickle", name)
        if isinstance(func, ast.Name) and func.id in self.pickle_load:
            self.flag(node, "pickle", name)
        # numpy.load
        is_np_load = (
            isinstance(func, ast.Attribute)
            and func.attr == "load"
            and isinstance(func.value, ast.Name)
            and func.value.id in self.numpy
        ) or (isinstance(func, ast.Name) and func.id in self.np_load)
        if is_np_load and not _is_const(keywords.get("allow_pickle"), False):
            self.flag(node, "np_load", f"{name}(...) without allow_pickle=False")
        elif "allow_pickle" in keywords and not _is_const(keywords["allow_pickle"], False):
            self.flag(node, "np_load", f"{name}(..., allow_pickle=<not False>)")
        # Keras safe_mode
        if "safe_mode" in keywords and not _is_const(keywords["safe_mode"], True):
            self.flag(node, "keras_safe_mode", f"{name}(..., safe_mode=<not True>)")
        # TF1 SavedModel loader (imports the metagraph) and MetaGraphDef parsing
        if name.endswith("saved_model.loader.load") or name.endswith("saved_model.load_v1"):
            self.flag(node, "metagraph", name)
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("FromString", "ParseFromString", "MergeFromString")
            and "MetaGraphDef" in _dotted(func.value)
        ):
            self.flag(node, "metagraph", name)
        # yaml
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in self.yaml:
            if func.attr in ("unsafe_load", "full_load", "unsafe_load_all", "full_load_all"):
                self.flag(node, "yaml", name)
            elif func.attr in ("load", "load_all"):
                loader = keywords.get("Loader")
                if loader is None and len(node.args) > 1:
                    loader = node.args[1]
                if loader is None or _dotted(loader).split(".")[-1] not in SAFE_YAML_LOADERS:
                    self.flag(node, "yaml", f"{name} without a safe Loader")
        self.generic_visit(node)


def check_source(source: str, filename: str = "<snippet>") -> list:
    """``[(line, rule, text)]`` of the unsafe-loading patterns in Python source."""
    checker = _Checker()
    checker.visit(ast.parse(source, filename))
    return sorted(checker.problems)


def _notebook_source(path: pathlib.Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    lines = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        text = "".join(cell.get("source", []))
        # IPython magics and shell escapes are not Python
        # (kept at their indentation: a shell escape may sit inside an ``if`` block)
        lines.extend(
            l[: len(l) - len(l.lstrip())] + "pass" if l.lstrip().startswith(("%", "!")) else l
            for l in text.splitlines()
        )
    return "\n".join(lines)


def project_files() -> list:
    files = []
    for package in PACKAGES:
        folder = REPO / package
        if folder.is_dir():
            files += sorted(folder.rglob("*.py")) + sorted(folder.rglob("*.ipynb"))
    return [f for f in files if ".ipynb_checkpoints" not in f.parts and "__pycache__" not in f.parts]


def test_checker_finds_every_pattern():
    unsafe = """
import pickle, cPickle as cp, dill, joblib, shelve, marshal, yaml
import numpy as np, numpy
from numpy import load as np_load
from pickle import loads as ploads
import pandas as pd
import tensorflow as tf
import keras
from tensorflow.compat.v1.train import import_meta_graph
pickle.load(f)
cp.loads(b)
dill.load(f)
joblib.load("m.pkl")
shelve.open("db")
marshal.loads(b)
ploads(b)
pd.read_pickle("x.pkl")
np.load("x.npz")
numpy.load("x.npy", allow_pickle=True)
np_load("x.npy")
np.load("x.npy", allow_pickle=flag)
np.lib.format.read_array(f, allow_pickle=True)
keras.models.load_model("m.keras", safe_mode=False)
keras.saving.load_model("m.keras", safe_mode=flag)
keras.config.enable_unsafe_deserialization()
tf.compat.v1.train.import_meta_graph("model.meta")
tf.compat.v1.saved_model.loader.load(sess, ["serve"], "dir")
tf.compat.v1.MetaGraphDef.FromString(bundle.metagraph_file)
yaml.load(text)
yaml.unsafe_load(text)
"""
    problems = check_source(unsafe)
    rules = [rule for _, rule, _ in problems]
    assert rules.count("pickle") == 8, problems
    assert rules.count("np_load") == 5, problems
    assert rules.count("keras_safe_mode") == 3, problems
    assert rules.count("metagraph") == 4, problems  # the from-import, the call, the loader, FromString
    assert rules.count("yaml") == 2, problems
    safe = """
import numpy as np
import keras, yaml, json
np.load("x.npz", allow_pickle=False)
np.savez("x.npz", a=1)
keras.models.load_model("m.keras")
keras.saving.load_model("m.keras", safe_mode=True)
yaml.safe_load(text)
yaml.load(text, Loader=yaml.SafeLoader)
json.load(f)
saver.export_meta_graph()
bundle.metagraph_file
"""
    assert check_source(safe) == []


def test_project_never_unpickles_nor_imports_metagraphs():
    files = project_files()
    assert len(files) > 20, "the project's packages were not found"
    violations = []
    for path in files:
        rel = path.relative_to(REPO).as_posix()
        source = _notebook_source(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
        try:
            problems = check_source(source, rel)
        except SyntaxError as e:  # a file being written by someone else right now, or a notebook magic
            pytest.fail(f"{rel}: cannot parse ({e})")
        violations += [f"{rel}:{line}: {rule}: {text}" for line, rule, text in problems if (rel, rule) not in ALLOWED]
    assert not violations, "unsafe loading:\n" + "\n".join(violations)
    print(f"\nchecked {len(files)} files for unsafe loading")


# --------------------------------------------------------------------------- JSB Chorales


@pytest.fixture
def no_unpickling(monkeypatch):
    """Every unpickling entry point raises while the test runs."""

    def trap(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, trap)
    real_np_load = np.load

    def np_load(*args, **kwargs):
        if kwargs.get("allow_pickle") is not False:
            raise AssertionError(f"np.load called without allow_pickle=False: {args} {kwargs}")
        return real_np_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", np_load)


def test_jsb_chorales_are_read_from_json(no_unpickling, tmp_path):
    jsb = pytest.importorskip("music_transformer_ext.jsb")
    json_path = JSB_DIR / "Jsb16thSeparated.json"
    if not json_path.is_file():
        pytest.skip(f"{json_path} missing")
    splits = jsb.load_jsb_chorales(json_path)
    raw = json.loads(json_path.read_text())
    assert {k: len(v) for k, v in splits.items()} == {"train": 229, "valid": 76, "test": 77}
    for split in ("train", "test"):
        for index in (0, len(raw[split]) - 1):
            grid = np.asarray(raw[split][index], dtype=np.float64)
            expected = np.where(grid < 0, np.nan, grid)
            np.testing.assert_array_equal(np.asarray(splits[split][index], dtype=np.float64), expected)
    # The pickled .npz copy is refused, by name and by content (renamed to .json).
    npz = JSB_DIR / "Jsb16thSeparated.npz"
    if npz.is_file():
        with pytest.raises(jsb.JsbFormatError, match="npz"):
            jsb.load_jsb_chorales(npz)
        disguised = tmp_path / "disguised.json"
        disguised.write_bytes(npz.read_bytes())
        with pytest.raises(jsb.JsbFormatError, match="disguised.json"):
            jsb.load_jsb_chorales(disguised)
    # A pickle in a .json file is never unpickled either (the trap would fire).
    payload = tmp_path / "payload.json"
    payload.write_bytes(pickle.dumps({"train": []}))
    with pytest.raises(jsb.JsbFormatError, match="payload.json"):
        jsb.load_jsb_chorales(payload)
