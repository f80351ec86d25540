"""What the zoo's training scripts share: the repository on ``sys.path`` (importing this module puts it
there, and quiets TensorFlow's C++ log unless ``TF_CPP_MIN_LOG_LEVEL`` is set), hardware text, wall-time
accounting across resumed runs, and the key check of a continuation against its primer.

A script in ``bench/zoo`` starts with::

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import common  # noqa: E402  (bench/zoo/common.py)
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
#: The repository's root folder.
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def hardware() -> str:
    """``x86_64 CPU, 2 cores (Linux-...)``, or the GPU's name where TensorFlow sees one."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    where = f"{len(gpus)} GPU" if gpus else f"{platform.machine()} CPU, {os.cpu_count()} cores"
    return f"{where} ({platform.platform()})"


class WallClock:
    """Adds a stage's wall time to ``path`` (JSON ``{"seconds": total}``), so stopped and resumed runs
    report their whole time. Use as a context manager around the work.

    While the work runs, a heartbeat writes its time so far every ``heartbeat_s`` seconds as
    ``"running"``; a run killed before its ``__exit__`` (SIGTERM, SIGKILL, the machine going away) leaves
    that behind, and the next WallClock on ``path`` (or :meth:`total`) counts it, so at most one
    heartbeat's time is lost."""

    def __init__(self, path: pathlib.Path, heartbeat_s: float = 60.0):
        self.path = pathlib.Path(path)
        self.heartbeat_s = heartbeat_s

    def _write(self, seconds: float, running: float = None) -> None:
        from tfmusic import files

        record = {"seconds": seconds}
        if running is not None:
            record["running"] = running
        files.atomic_write_json(self.path, record)

    def __enter__(self):
        import threading

        self.spent = self.total(self.path)  # a killed run's "running" time is folded in here
        self._write(self.spent)
        self.start = time.time()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="wall-clock", daemon=True)
        self._beat.start()
        return self

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            self._write(self.spent, time.time() - self.start)

    def __exit__(self, *exc):
        self._stop.set()
        self._beat.join()
        self._write(self.spent + time.time() - self.start)

    @staticmethod
    def total(path: pathlib.Path) -> float:
        """Seconds recorded in ``path`` (0 if none), with a run's ``running`` time (one in progress, or
        one killed before it could add its time)."""
        path = pathlib.Path(path)
        if not path.exists():
            return 0.0
        record = json.loads(path.read_text())
        return record["seconds"] + record.get("running", 0.0)


def training_record(work: pathlib.Path, steps: int, earlier_seconds: float = 0, **fields) -> dict:
    """A zoo model's ``training`` entry (``model.json``): ``steps``, the wall ``seconds`` of every run (from
    ``work/train_time.json``, plus ``earlier_seconds`` spent on a model the run continues), the
    ``hardware``, then ``fields``, then today's ``date``."""
    import datetime

    seconds = round(WallClock.total(work / "train_time.json") + earlier_seconds)
    return {
        "steps": steps,
        "seconds": seconds,
        "hardware": hardware(),
        **fields,
        "date": datetime.date.today().isoformat(),
    }


def write_model(folder: pathlib.Path, manifest: dict, card: str) -> None:
    """Writes a zoo model's ``model.json`` (``manifest``) and its card ``README.md`` into ``folder``; prints
    the card."""
    from tfmusic import files

    files.atomic_write_json(folder / "model.json", manifest)
    files.atomic_write_text(folder / "README.md", card)
    print(card)


def zoo_parser(doc: str, work: str):
    """A zoo script's ``argparse`` parser (``doc``: the script's docstring) with what every script takes:
    ``--work`` (its run folder, default ``work``, outside the repo) and ``--models`` (the zoo folder)."""
    import argparse

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--work", default=work, help="the script's work folder: run, data, evaluation (outside the repo)"
    )
    parser.add_argument("--models", default=str(REPO_ROOT / "models"), help="the zoo folder written by 'ship'")
    return parser


def key_cells(row: dict) -> str:
    """A card table's last four cells for a :func:`key_check` row: primer key, piece key, key score,
    in-scale share (``"F# minor | A major | 0.30 | 1.00 |"``)."""
    return f"{row['primer_key']} | {row['piece_key']} | {row['key_score']:.2f} | {row['in_scale_share']:.2f} |"


def key_table(columns, rows, piece: str = "piece") -> list:
    """A card's samples table as Markdown lines: the headers ``columns``, then primer key, ``piece`` key,
    key score and in-scale share; ``rows``: ``(first cells, key_check row)`` pairs."""
    head = [*columns, "primer key", f"{piece} key", "key score", "in-scale share"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(str(c) for c in cells) + " | " + key_cells(row) for cells, row in rows]


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


def key_counts(rows) -> dict:
    """Counts of :func:`key_check` rows (one per seed): ``kept`` (key score 1.0), ``in_scale`` (at least
    99 % of the note time in the primer's scale) and ``seeds``."""
    return {
        "kept": sum(r["key_score"] == 1.0 for r in rows),
        "in_scale": sum(r["in_scale_share"] >= 0.99 for r in rows),
        "seeds": len(rows),
    }


WARM_START_FILENAME = "warm_start.json"


def warm_start_record(work: pathlib.Path) -> dict:
    """What the run in ``work`` was warm-started from (a script's ``--from_shipped``): ``steps`` and
    wall ``seconds`` of the shipped model it continues, ``date`` of the warm start; ``{}`` for a run
    from scratch."""
    path = work / WARM_START_FILENAME
    return json.loads(path.read_text()) if path.is_file() else {}


def record_warm_start(work: pathlib.Path, shipped: pathlib.Path) -> dict:
    """Writes ``work/warm_start.json`` for a new run that continues the shipped model in ``shipped``
    (its ``model.json``'s training steps and seconds, today's date) and returns it."""
    import datetime

    from tfmusic import files

    training = json.loads((shipped / "model.json").read_text())["training"]
    record = {
        "steps": int(training["steps"]),
        "seconds": int(training["seconds"]),
        "date": datetime.date.today().isoformat(),
    }
    files.atomic_write_json(work / WARM_START_FILENAME, record)
    return record


def warm_start_lines(training: dict, went_on: str) -> list:
    """A model card's paragraph on a run that went on from the shipped model (``--from_shipped``; the
    ``warm_start`` entry of ``training``), or ``[]``. ``went_on`` says how, e.g. "the run went on from
    that shipped bundle (...)"."""
    warm = training.get("warm_start")
    if not warm:
        return []
    spent = f"{warm['seconds'] / 3600:.1f} h" if warm["seconds"] >= 7200 else f"{warm['seconds'] / 60:.0f} min"
    return [
        "",
        f"The first {warm['steps']:,} steps ({spent}) are an earlier run's, whose run folder did not outlive its "
        f"machine; on {warm['date']} {went_on} for the other {training['steps'] - warm['steps']:,} steps. The "
        "retraining command above trains the same number of steps in one run.",
    ]


def export_t2t(work: pathlib.Path, t2t_dir: pathlib.Path):
    """Exports the newest checkpoint of the Music Transformer run ``work/run`` (trained on
    ``work/dataset``) as a tensor2tensor-named checkpoint in ``t2t_dir`` (replaced), without
    training a step. Returns (step, the model ported back from ``t2t_dir``)."""
    import shutil

    import tensorflow as tf

    from music_transformer_ext import checkpoints, data, train_cli

    shutil.rmtree(t2t_dir, ignore_errors=True)
    step = int(tf.train.latest_checkpoint(str(work / "run")).rsplit("-", 1)[1])  # where the run stands
    argv = ["--model_dir", str(work / "run"), "--train_data", data.split_file_pattern(str(work / "dataset"), "train")]
    if train_cli.main([*argv, "--num_steps", str(step), "--export_t2t", str(t2t_dir)]):
        raise SystemExit(f"{work / 'run'}: export to {t2t_dir} failed")
    return step, checkpoints.port_t2t_checkpoint(str(t2t_dir))


def train_transformer(
    work: pathlib.Path, steps: int, overrides, checkpoint_every: int = 200, init_checkpoint: str = ""
) -> None:
    """``music_transformer_train`` (preset ``score2perf_relative`` plus ``overrides``, ``--set`` strings)
    on the train split of ``work/dataset`` into ``work/run`` up to ``steps``; resumes a stopped run and
    adds its wall time to ``work/train_time.json``. ``init_checkpoint``: a tensor2tensor checkpoint a
    new run starts from (``--checkpoint``, whose variables give the architecture instead of the preset;
    ignored once the run exists)."""
    from music_transformer_ext import data, train_cli

    argv = ["--model_dir", str(work / "run"), "--train_data", data.split_file_pattern(str(work / "dataset"), "train")]
    argv += ["--num_steps", str(steps)]
    if not (work / "run" / "config.json").exists():  # a run resumes with what it started from (run_flags.json)
        # from a checkpoint, the architecture is the checkpoint's (the overrides still apply)
        argv += ["--checkpoint", init_checkpoint] if init_checkpoint else ["--preset", "score2perf_relative"]
    overrides = (f"trainer.checkpoint_every={checkpoint_every}", "trainer.progress=false", *overrides)
    train(train_cli.main, argv, overrides, work, "music_transformer_train")


def train(main, argv, overrides, work: pathlib.Path, command: str) -> None:
    """Runs the training command ``command`` (its entry point ``main``) with ``argv`` and ``--set OVERRIDE``
    for each of ``overrides``, adding its wall time to ``work/train_time.json``; a failure stops the script."""
    for override in overrides:
        argv = [*argv, "--set", override]
    with WallClock(work / "train_time.json"):
        rc = main(argv)
    if rc:
        raise SystemExit(f"{command} failed ({rc})")


def render_sample(midi_path: pathlib.Path, title: str):
    """Writes the FluidSynth rendering (16 kHz, peak 0.8) and the piano roll (titled ``title``) of the MIDI
    file ``midi_path`` beside it (``.wav``, ``.png``); returns the ``pretty_midi.PrettyMIDI``."""
    import pretty_midi

    from music_eval import plots
    from tfmusic import audio, files

    midi_path = pathlib.Path(midi_path)
    midi = pretty_midi.PrettyMIDI(str(midi_path))
    wav = audio.render_midi(midi, sample_rate=16000)
    audio.write_wav(str(midi_path.with_suffix(".wav")), wav / max(1e-6, float(abs(wav).max())) * 0.8, 16000)
    files.atomic_write_bytes(midi_path.with_suffix(".png"), plots.figure_to_png(plots.piano_roll(midi, title=title)))
    return midi


def note_sequences_of(paths, work: pathlib.Path, name: str = "bach") -> pathlib.Path:
    """Copies the score files ``paths`` into ``work/<name>`` and converts that folder with
    ``convert_dir_to_note_sequences`` into one file, ``work/ns/<name>.tfrecord``, which it returns."""
    import shutil

    from pipelines import convert_dir_to_note_sequences_cli

    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.copy(path, folder / os.path.basename(path))
    output = work / "ns" / f"{name}.tfrecord"
    if convert_dir_to_note_sequences_cli.main(
        ["--input_dir", str(folder), "--output_file", str(output), "--no_progress"]
    ):
        raise SystemExit("convert_dir_to_note_sequences failed")
    return output
