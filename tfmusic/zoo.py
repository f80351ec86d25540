"""The model zoo: models trained by this project and shipped in ``models/``, found by a short name.

Each zoo model is a folder ``models/<name>/`` holding

* ``model.json``: ``{"name", "family", "weights", "description", "metrics"}`` where ``weights`` is a
  file or folder inside the model's folder, in the format the family's own loader reads (a ``.mag``
  bundle for Melody RNN, a tensor2tensor-named checkpoint for Music Transformer, a run folder for
  GANSynth and the pitch classifier), and ``metrics`` the held-out figures its card
  reports (the tests re-measure them);
* ``README.md``: the model card (data and split, retraining command, steps, time, hardware, figures,
  samples).

This module knows names and files only. Loading dispatches on ``family`` to the family's public
loader, imported when asked for (``tfmusic`` imports no model package). The zoo folder is the
repository's ``models/``, or ``$TFMUSIC_ZOO_DIR`` where that is set.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pathlib
from typing import Any, Dict, List, Optional

ZOO_ENV = "TFMUSIC_ZOO_DIR"
MANIFEST = "model.json"
CARD = "README.md"

# family -> "module:function" taking the weights' path and returning the loaded model object.
LOADERS: Dict[str, str] = {
    "melody_rnn": "melody_rnn_ext.generate:MelodyGenerator.from_bundle",
    "music_transformer": "music_transformer_ext.checkpoints:port_t2t_checkpoint",
    "gansynth": "gansynth_tf.synthesize:GANSynthSynthesizer.from_model_dir",
    "pitch_classifier": "music_eval.classifier:load_classifier",
}

# family -> the zoo model its commands use when no model is given
DEFAULTS: Dict[str, str] = {
    "melody_rnn": "melody_rnn_attention",
    "music_transformer": "transformer_chorales",
    "gansynth": "gansynth_multisf",
    "pitch_classifier": "pitch_classifier",
}


class ZooError(LookupError):
    """An unknown zoo name, or a zoo folder whose manifest or weights are missing or malformed."""


@dataclasses.dataclass(frozen=True)
class ZooModel:
    """One zoo entry. ``path``: absolute path of its weights; ``card``: its model card."""

    name: str
    family: str
    path: str
    card: str
    description: str
    metrics: Dict[str, Any]


def zoo_dir() -> pathlib.Path:
    """The folder holding the zoo (``$TFMUSIC_ZOO_DIR``, else the repository's ``models/``)."""
    env = os.environ.get(ZOO_ENV)
    if env:
        return pathlib.Path(env)
    return pathlib.Path(__file__).resolve().parent.parent / "models"


def names(family: Optional[str] = None) -> List[str]:
    """Sorted names of the zoo's models (of ``family`` only, if given)."""
    root = zoo_dir()
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(root.iterdir()):
        if (folder / MANIFEST).is_file():
            if family is None or _read_manifest(folder).get("family") == family:
                out.append(folder.name)
    return out


def _read_manifest(folder: pathlib.Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ZooError(f"{path}: unreadable zoo manifest ({e})") from e
    if not isinstance(manifest, dict) or not {"family", "weights"} <= set(manifest):
        raise ZooError(f"{path}: a zoo manifest needs 'family' and 'weights'")
    return manifest


def get(name: str) -> ZooModel:
    """The zoo entry ``name``; :class:`ZooError` naming the known models if there is none."""
    folder = zoo_dir() / name
    if not (folder / MANIFEST).is_file():
        known = ", ".join(names()) or "none"
        raise ZooError(f"no zoo model {name!r} in {zoo_dir()} (known: {known})")
    manifest = _read_manifest(folder)
    family = manifest["family"]
    if family not in LOADERS:
        raise ZooError(f"{folder / MANIFEST}: unknown family {family!r} (known: {', '.join(sorted(LOADERS))})")
    weights = folder / manifest["weights"]
    if not weights.exists():
        raise ZooError(f"zoo model {name!r}: weights {weights} missing (a partial checkout?)")
    return ZooModel(
        name=name,
        family=family,
        path=str(weights),
        card=str(folder / CARD),
        description=manifest.get("description", ""),
        metrics=dict(manifest.get("metrics", {})),
    )


def path(name: str) -> str:
    """Absolute path of zoo model ``name``'s weights (file or folder)."""
    return get(name).path


def resolve(name_or_path: Optional[str], family: Optional[str] = None) -> str:
    """A path given by the user, or a zoo name turned into its weights' path.

    An existing file or folder is returned as it is. Otherwise ``name_or_path`` must be a zoo name
    (of ``family``, if given); ``None`` means ``family``'s default zoo model (:data:`DEFAULTS`).
    Anything else raises :class:`ZooError` naming the choices.
    """
    if name_or_path is None:
        if family not in DEFAULTS:
            raise ZooError(f"no model given, and no default zoo model for family {family!r}")
        name_or_path = DEFAULTS[family]
        if not (zoo_dir() / name_or_path / MANIFEST).is_file():
            raise ZooError(
                f"no model given, and the zoo ({zoo_dir()}) holds no {family} model "
                f"{name_or_path!r} yet: pass a trained model's path"
            )
    if os.path.exists(name_or_path):
        return name_or_path
    if not (zoo_dir() / name_or_path / MANIFEST).is_file():
        known = ", ".join(names(family)) or "none"
        raise ZooError(f"{name_or_path}: no such file, and no such zoo model (zoo models: {known})")
    entry = get(name_or_path)
    if family is not None and entry.family != family:
        raise ZooError(
            f"zoo model {name_or_path!r} is a {entry.family} model, not a {family} one "
            f"(zoo {family} models: {', '.join(names(family)) or 'none'})"
        )
    return entry.path


def load(name: str) -> Any:
    """Zoo model ``name`` loaded by its family's loader (e.g. a ``MelodyGenerator``)."""
    entry = get(name)
    module_name, attr = LOADERS[entry.family].split(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target(entry.path)
