"""What the zoo's training scripts share: hardware text, wall-time accounting across resumed runs,
and the key check of a continuation against its primer."""

from __future__ import annotations

import json
import os
import pathlib
import platform
import time


def hardware() -> str:
    """``x86_64 CPU, 2 cores (Linux-...)``, or the GPU's name where TensorFlow sees one."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    where = f"{len(gpus)} GPU" if gpus else f"{platform.machine()} CPU, {os.cpu_count()} cores"
    return f"{where} ({platform.platform()})"


class WallClock:
    """Adds a stage's wall time to ``path`` (JSON ``{"seconds": total}``), so stopped and resumed runs
    report their whole time. Use as a context manager around the work."""

    def __init__(self, path: pathlib.Path):
        self.path = pathlib.Path(path)

    def __enter__(self):
        self.start = time.time()
        return self

    def __exit__(self, *exc):
        from tfmusic import files

        spent = json.loads(self.path.read_text())["seconds"] if self.path.exists() else 0.0
        files.atomic_write_json(self.path, {"seconds": spent + time.time() - self.start})

    @staticmethod
    def total(path: pathlib.Path) -> float:
        """Seconds recorded in ``path`` (0 if none)."""
        path = pathlib.Path(path)
        return json.loads(path.read_text())["seconds"] if path.exists() else 0.0


def key_check(primer_midi, full_midi) -> dict:
    """Key of the primer against the key of the whole piece (``pretty_midi.PrettyMIDI`` objects):
    ``primer_key``, ``piece_key``, ``key_score`` (music_eval.theory, 1 = same key) and
    ``in_scale_share`` (duration share of the piece's notes in the primer's scale)."""
    from music_eval import features_symbolic, theory

    primer_key = theory.estimate_key(features_symbolic.pitch_class_histogram(primer_midi))
    whole = features_symbolic.pitch_class_histogram(full_midi)
    piece_key = theory.estimate_key(whole)
    return {
        "primer_key": primer_key.name,
        "piece_key": piece_key.name,
        "key_score": float(theory.key_weighted_score(primer_key, piece_key)),
        "in_scale_share": float(theory.in_scale_share(whole, primer_key)),
    }
