"""Crash drill: conversions killed with SIGKILL at random moments never leave a partial shard.

Both conversion commands run as subprocesses (``python -m pipelines.nsynth_to_tfrecord_cli`` on ~50 rendered
NSynth notes, ``python -m pipelines.convert_dir_to_note_sequences_cli`` on ~100 Bach chorales and MIDI files), each with two
bad inputs that must be skipped; the two complete reference outputs are made in this process. Each is killed at least 5 times (seeded RNG), at moments of three
kinds: during start-up, at a random point while the shards are being written (temporary files exist),
and right when the first final shard name changes (the commit). The first kills land in an empty output
folder; the later ones in a folder holding the complete output of another run of the same command
(``--max_pitch 60`` / ``--norecursive``: same shard names, other records).

After every kill:

* every file with a final shard name is a complete TFRecord (read back with CRC checks) that is, byte
  for byte, either the previous complete run's shard or the new run's (and so has its record count);
  anything else in the folder has a temporary name;
* a kill before the commit leaves the previous output untouched; the summary/counters JSON is
  whole, and a new summary only ever sits beside new shards;

and at the end a rerun completes with the right counts: records read back == notes/files expected,
the two bad inputs skipped and named, no temporary file left.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from pipelines import tfrecord_io

REPO = pathlib.Path(__file__).resolve().parents[2]
SEED = 20240607
# Kinds of kill moments, in order: the first two hit an empty output folder, the rest a complete one.
FRESH_PLAN = ("writing", "commit")
PREVIOUS_PLAN = ("startup", "writing", "writing", "commit")
MAX_ATTEMPTS = 12  # a kill can miss (the run ended first); retry, but boundedly

SUMMARY_LINES = []


@pytest.fixture(scope="module", autouse=True)
def _print_summary():
    yield
    print()
    for line in SUMMARY_LINES:
        print(line)


def _env():
    return dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


class Command:
    """One conversion command under the drill.

    Args:
      module: ``python -m`` module.
      args: ``args(output_folder)`` -> the full argument list of the run to kill.
      variant_args: ``variant_args(output_folder)`` -> a run writing other records under the same names.
      shard_regex: final shard names (basename).
      summary_name: the summary/counters JSON's basename.
    """

    def __init__(self, module, args, variant_args, shard_regex, summary_name):
        self.module = module
        self.main = importlib.import_module(module).main
        self.args = args
        self.variant_args = variant_args
        self.shard_regex = re.compile(shard_regex)
        self.summary_name = summary_name

    def popen(self, argv, log):
        return subprocess.Popen(
            [sys.executable, "-m", self.module] + argv, cwd=str(REPO), env=_env(), stdout=log, stderr=subprocess.STDOUT
        )

    def run(self, argv, log_path) -> None:
        """Runs the command in a subprocess, to completion."""
        with open(log_path, "ab") as log:
            rc = self.popen(argv, log).wait(timeout=600)
        assert rc == 0, pathlib.Path(log_path).read_text()[-3000:]

    def run_here(self, argv) -> float:
        """Runs the command in this process (TensorFlow is already imported); returns its seconds."""
        start = time.monotonic()
        assert self.main(argv) == 0
        return time.monotonic() - start


def _snapshot(folder: pathlib.Path, command: Command) -> dict:
    """{final shard name or summary name: bytes} of a folder."""
    out = {}
    if folder.is_dir():
        for entry in os.listdir(folder):
            if command.shard_regex.fullmatch(entry) or entry == command.summary_name:
                out[entry] = (folder / entry).read_bytes()
    return out


def _stamps(folder: pathlib.Path, command: Command) -> dict:
    out = {}
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if command.shard_regex.fullmatch(entry.name):
                    st = entry.stat()
                    out[entry.name] = (st.st_ino, st.st_mtime_ns)
    except FileNotFoundError:
        pass
    return out


def _temp_shards(folder: pathlib.Path) -> set:
    try:
        return {name for name in os.listdir(folder) if ".tfrecord.tmp-" in name}
    except FileNotFoundError:
        return set()


def _wait(predicate, proc, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if predicate():
            return True
        time.sleep(0.001)
    return False


def _kill_once(
    command: Command, kind: str, out: pathlib.Path, rng: random.Random, write_seconds: float, log_path
) -> tuple[bool, float]:
    """Starts the run, kills it at a moment of ``kind``; returns (killed, seconds after start)."""
    before, stale = _stamps(out, command), _temp_shards(out)  # a killed run's temporary files stay
    with open(log_path, "ab") as log:
        start = time.monotonic()
        proc = command.popen(command.args(out), log)
        try:
            if kind == "startup":
                time.sleep(rng.uniform(0.05, 2.0))
            elif kind == "writing":
                _wait(lambda: bool(_temp_shards(out) - stale), proc, 300)  # this run's writer is open
                time.sleep(rng.uniform(0.0, write_seconds))
                if _stamps(out, command) != before:
                    # the commit began before the kill was due (a fast run): not a kill while writing,
                    # so let this run finish and count it as missed (the drill tries again)
                    proc.wait(timeout=600)
            elif kind == "commit":
                _wait(lambda: _stamps(out, command) != before, proc, 300)
            else:
                raise ValueError(kind)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        finally:
            rc = proc.wait(timeout=600)
    assert rc in (0, -signal.SIGKILL), (rc, pathlib.Path(log_path).read_text()[-3000:])
    return rc == -signal.SIGKILL, time.monotonic() - start


def _count(path: pathlib.Path) -> int:
    return sum(1 for _ in tfrecord_io.iter_records(str(path)))


def _check_after_kill(out: pathlib.Path, command: Command, new: dict, previous: dict, counts: dict) -> str:
    """The invariants after a kill; returns the state seen: untouched / partly committed / committed / empty.

    ``new``/``previous``: {name: bytes} of the complete outputs; ``counts``: {shard bytes: record count}.
    """
    names = os.listdir(out) if out.is_dir() else []
    for name in names:
        if not (command.shard_regex.fullmatch(name) or name == command.summary_name):
            assert ".tmp-" in name, f"{name}: neither a final name nor a temporary one"
    state = _snapshot(out, command)
    shards = {n for n in state if n != command.summary_name}
    for name in shards:
        data = state[name]
        assert data in (new.get(name), previous.get(name)), f"{name}: not a complete shard of either run"
        # read back with CRC checks: a complete TFRecord with the right number of records
        assert _count(out / name) == counts[data], name
    if command.summary_name in state:
        summary = state[command.summary_name]
        json.loads(summary)  # whole JSON
        assert summary in (new[command.summary_name], previous.get(command.summary_name))
        if summary == new[command.summary_name] and summary != previous.get(command.summary_name):
            # the summary is written last: a new summary means every shard is there and new
            assert shards == set(new) - {command.summary_name}
            assert all(state[n] == new[n] for n in shards)
    if previous:
        # shards are replaced by rename: none may be missing at any moment
        assert shards == {n for n in previous if n != command.summary_name}, (sorted(shards), sorted(previous))
        if all(state[n] == previous[n] for n in state):
            return "untouched"
        return "committed" if all(state[n] == new[n] for n in state) else "partly committed"
    if not state:
        return "empty"
    return "committed" if state == new else "partly committed"


def drill(command: Command, base: pathlib.Path, expected: dict, bad_names: set, label: str):
    """Runs the whole drill for one command. ``expected``: counts the final summary must hold."""
    rng = random.Random(f"{SEED}-{label}")
    log_path = base / "runs.log"
    # the complete outputs: the run under test, and the variant whose output is "previous"
    ref_new, ref_previous = base / "ref_new", base / "ref_previous"
    # The conversion's own time (in this process, no start-up) bounds the subprocess's writing window.
    write_seconds = command.run_here(command.args(ref_new))
    command.run_here(command.variant_args(ref_previous))
    new, previous = _snapshot(ref_new, command), _snapshot(ref_previous, command)
    assert command.summary_name in new and command.summary_name in previous
    counts = {}
    for folder, output in ((ref_new, new), (ref_previous, previous)):
        counts.update({output[n]: _count(folder / n) for n in output if n != command.summary_name})
    assert set(new) == set(previous) and new != previous, "the variant must write other records, same names"
    summary = json.loads(new[command.summary_name])
    for key, value in expected.items():
        if key != "records":
            assert summary["counts"][key] == value, (key, summary["counts"])
    assert sum(counts[new[n]] for n in new if n != command.summary_name) == expected["records"]
    assert {s["name"] for s in summary["skipped"]} == bad_names

    out = base / "out"
    kills, states, attempts = [], [], 0
    for phase, plan in (("fresh", FRESH_PLAN), ("previous", PREVIOUS_PLAN)):
        if phase == "previous":
            # the folder now holds the other run's complete output (as that run left it)
            shutil.rmtree(out, ignore_errors=True)
            shutil.copytree(ref_previous, out)
        todo = list(plan)
        while todo:
            attempts += 1
            assert attempts <= MAX_ATTEMPTS, f"{label}: too many kills missed their run ({kills})"
            kind = todo[0]
            if phase == "fresh":
                shutil.rmtree(out, ignore_errors=True)
            killed, seconds = _kill_once(command, kind, out, rng, write_seconds, log_path)
            if not killed:  # the run finished first: put the folder back and try again
                if phase == "previous":
                    shutil.rmtree(out)
                    shutil.copytree(ref_previous, out)
                continue
            todo.pop(0)
            state = _check_after_kill(out, command, new, previous if phase == "previous" else {}, counts)
            if phase == "previous" and kind in ("startup", "writing"):
                assert state == "untouched", f"{label}: a kill before the commit changed the previous output"
            kills.append(f"{kind}@{seconds:.2f}s")
            states.append(state)
    assert len(kills) >= 5

    # the rerun completes: right counts, the same bytes as an undisturbed run, nothing temporary left
    command.run(command.args(out), log_path)
    assert _snapshot(out, command) == new
    assert not [n for n in os.listdir(out) if ".tmp-" in n], os.listdir(out)
    records = sum(_count(out / n) for n in new if n != command.summary_name)
    assert records == expected["records"]
    SUMMARY_LINES.append(
        f"crash drill {label}: {len(kills)} SIGKILLs survived ({', '.join(kills)}; "
        f"writing window {write_seconds:.1f} s, {attempts - len(kills)} kills missed); "
        f"states after kill: {', '.join(states)}; rerun read back {records} records, "
        f"skipped {sorted(bad_names)}"
    )


# --------------------------------------------------------------------------- NSynth


@pytest.fixture(scope="module")
def nsynth_folder(tmp_path_factory):
    """~50 notes rendered from the GM SoundFont plus two bad ones (corrupt wav, entry without pitch)."""
    from pipelines import nsynth_render

    root = tmp_path_factory.mktemp("crash_nsynth") / "in"
    notes = nsynth_render.select_notes((0, 24, 32, 40, 56, 73), (48, 55, 60, 67, 72), (75, 127), limit=52)
    counters = nsynth_render.render_dataset(root, notes, workers=2, progress=False)
    rendered = counters.get("rendered")
    assert 40 <= rendered <= 60, counters.summary()
    examples = json.loads((root / "examples.json").read_text())
    template = sorted(examples)[0]
    for bad in ("bad_corrupt_000-060-075", "bad_nopitch_000-060-075"):
        entry = dict(examples[template], note_str=bad)
        if "nopitch" in bad:
            del entry["pitch"]
        examples[bad] = entry
        shutil.copy(root / "audio" / f"{template}.wav", root / "audio" / f"{bad}.wav")
    (root / "audio" / "bad_corrupt_000-060-075.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt truncated")
    (root / "examples.json").write_text(json.dumps(examples, indent=1))
    low = sum(1 for e in examples.values() if e.get("pitch", 0) <= 60)
    return root, len(examples), low


@pytest.mark.slow
def test_nsynth_to_tfrecord_survives_sigkill(nsynth_folder, tmp_path):
    root, total, _ = nsynth_folder
    common = ["--input_dir", str(root), "--num_shards", "4", "--no_progress"]
    command = Command(
        "pipelines.nsynth_to_tfrecord_cli",
        args=lambda out: common + ["--output_dir", str(out)],
        variant_args=lambda out: common + ["--output_dir", str(out), "--max_pitch", "60"],
        shard_regex=r"nsynth-\d{5}-of-00004\.tfrecord",
        summary_name="nsynth-summary.json",
    )
    bad = {"bad_corrupt_000-060-075", "bad_nopitch_000-060-075"}
    drill(
        command,
        tmp_path,
        {"notes": total, "written": total - 2, "skipped": 2, "filtered_out": 0, "records": total - 2},
        bad,
        "nsynth_to_tfrecord",
    )


# --------------------------------------------------------------------------- NoteSequences


@pytest.fixture(scope="module")
def music_folder(tmp_path_factory):
    """76 Bach chorales (.mxl), music21's MIDI test files and a few more MIDI files, a third of them in
    a subfolder, plus a truncated MIDI file and a broken MusicXML file."""
    import music21
    import pretty_midi

    root = tmp_path_factory.mktemp("crash_music") / "chorales"
    (root / "more").mkdir(parents=True)
    m21 = pathlib.Path(music21.__file__).parent
    chorales = sorted((m21 / "corpus" / "bach").glob("bwv*.mxl"))[:76]
    midis = sorted((m21 / "midi" / "testPrimitive").glob("*.mid"))
    good = 0
    for i, path in enumerate(chorales + midis):
        shutil.copy(path, root / ("more" if i % 3 == 0 else ".") / path.name)
        good += 1
    for k in range(3):
        pm = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(program=k * 20)
        inst.notes = [pretty_midi.Note(80, 50 + k + j, 0.3 * j, 0.3 * j + 0.25) for j in range(12)]
        pm.instruments.append(inst)
        pm.write(str(root / f"gen{k}.mid"))
        good += 1
    data = (root / "gen0.mid").read_bytes()
    (root / "more" / "truncated.mid").write_bytes(data[: len(data) // 2])
    (root / "broken.xml").write_text('<?xml version="1.0"?><score-partwise><part id="P1"><measure number="1">')
    return root, good


@pytest.mark.slow
def test_convert_dir_to_note_sequences_survives_sigkill(music_folder, tmp_path):
    root, good = music_folder
    common = ["--input_dir", str(root), "--num_shards", "3", "--no_progress"]
    command = Command(
        "pipelines.convert_dir_to_note_sequences_cli",
        args=lambda out: common + ["--output_file", str(out / "ns.tfrecord")],
        variant_args=lambda out: common + ["--output_file", str(out / "ns.tfrecord"), "--norecursive"],
        shard_regex=r"ns-\d{5}-of-00003\.tfrecord",
        summary_name="ns.counters.json",
    )
    drill(
        command,
        tmp_path,
        {
            "files_found": good + 2,
            "files_converted": good,
            "files_skipped": 2,
            "sequences_written": good,
            "records": good,
        },
        {"more/truncated.mid", "broken.xml"},
        "convert_dir_to_note_sequences",
    )
