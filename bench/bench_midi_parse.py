"""Benchmark: MIDI file -> NoteSequence, ``pipelines.midi_fast`` (symusic) against note-seq.

Usage (from the repository root):

    .venv/bin/python bench/bench_midi_parse.py --out bench/results

Inputs: a few hundred pieces of music21's corpus exported to MIDI by music21 itself
(``score.write('midi')``): Bach chorales, Palestrina masses, Monteverdi madrigals, trecento
pieces, string quartets (Haydn, Mozart, Beethoven), folk tunes from ABC books and the
corpus's single pieces (piano, songs). Exporting takes minutes, so the files are cached in
``--cache`` (default: ``$TMPDIR/tfmusic_bench_midi``) and reused by later runs.

Both sides read a file from its path and return a ``NoteSequence``:
``note_seq.midi_io.midi_file_to_note_sequence`` (pretty_midi on mido) and
``pipelines.midi_fast.midi_file_to_note_sequence`` (symusic plus a NumPy check of the file's
structure, note-seq's reading where the two could differ). Single process, one file at a
time. After a warm-up pass, ``--repeats`` interleaved rounds time one pass of each over all
files (so that load from other processes hits both alike); files/s come from the best pass,
the median pass is reported too. Every fast result is compared with note-seq's (protobuf
equality), and the files that fell back to note-seq are counted with their reasons.
Writes ``midi_parse.json`` and ``midi_parse.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import importlib.metadata
import json
import os
import pathlib
import sys
import tempfile
import warnings

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import timing  # noqa: E402  (bench/timing.py)

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

GOAL_RATIO = 10.0
DEFAULT_CACHE = pathlib.Path(tempfile.gettempdir()) / "tfmusic_bench_midi"
CACHE_VERSION = "music21_midi_v1"

# (corpus folder, file extension, how many files of it); sorted paths, the first ones taken.
SELECTION = (
    ("bach", ".mxl", 120),
    ("palestrina", ".krn", 50),
    ("ryansMammoth", ".abc", 40),
    ("trecento", ".xml", 30),
    ("monteverdi", ".mxl", 25),
    ("oneills1850", ".abc", 20),
    ("essenFolksong", ".abc", 5),
    ("haydn", ".mxl", 4),
    ("mozart", ".mxl", 3),
    ("beethoven", ".mxl", 3),
)
# Folders with few files: every MusicXML file of them (piano pieces, songs, lead sheets...).
SMALL_FOLDER_MAX = 9
TUNES_PER_BOOK = 3  # an ABC book (an Opus) gives its first few tunes


def corpus_selection() -> list:
    """Paths of music21 corpus files to export, in a fixed order."""
    from music21 import corpus

    by_folder = collections.defaultdict(list)
    for p in corpus.getPaths():
        p = str(p)
        folder = p.split(os.sep + "corpus" + os.sep, 1)[-1].split(os.sep)[0]
        by_folder[(folder, os.path.splitext(p)[1].lower())].append(p)
    chosen = []
    for folder, ext, count in SELECTION:
        chosen += sorted(by_folder.get((folder, ext), []))[:count]
    listed = {folder for folder, _, _ in SELECTION}
    for (folder, ext), paths in sorted(by_folder.items()):
        if folder not in listed and ext in (".mxl", ".xml", ".musicxml") and len(paths) <= SMALL_FOLDER_MAX:
            chosen += sorted(paths)
    return chosen


def export_corpus(cache: pathlib.Path, progress: bool = True) -> list:
    """Exports the selection to MIDI under ``cache/<version>/`` once; returns the MIDI paths.

    A finished export leaves ``manifest.json``; a later call only reads it. Pieces music21
    cannot read or write are skipped (listed in the manifest).
    """
    folder = cache / CACHE_VERSION
    manifest = folder / "manifest.json"
    if manifest.exists():
        return [str(folder / name) for name in json.loads(manifest.read_text())["files"]]
    import music21

    folder.mkdir(parents=True, exist_ok=True)
    files, skipped = [], []
    selection = corpus_selection()
    for k, path in enumerate(selection):
        stem = "_".join(pathlib.Path(path).parts[-2:]).replace(".", "_")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = music21.converter.parse(path)
                scores = list(parsed.scores)[:TUNES_PER_BOOK] if isinstance(parsed, music21.stream.Opus) else [parsed]
                for t, score in enumerate(scores):
                    name = f"{stem}.mid" if len(scores) == 1 else f"{stem}_{t}.mid"
                    score.write("midi", fp=str(folder / name))
                    files.append(name)
        except Exception as e:  # noqa: BLE001  (music21 raises many types on odd corpus files)
            skipped.append([path, f"{type(e).__name__}: {e}"[:200]])
        if progress and (k + 1) % 25 == 0:
            print(f"exported {k + 1}/{len(selection)} pieces ({len(files)} MIDI files)", flush=True)
    manifest.write_text(json.dumps({"files": files, "skipped": skipped}, indent=1) + "\n")
    return [str(folder / name) for name in files]


def main(argv=None) -> dict:
    """Run the benchmark (command-line ``argv``); writes the JSON and Markdown, returns the JSON dict."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results"))
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="folder for the exported MIDI files")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--export-only", action="store_true", help="export the corpus to --cache and stop")
    parser.add_argument("--note", default="", help="a sentence added to the Markdown (e.g. what else ran)")
    args = parser.parse_args(argv)

    paths = export_corpus(pathlib.Path(args.cache))
    if args.export_only:
        print(f"{len(paths)} MIDI files in {pathlib.Path(args.cache) / CACHE_VERSION}")
        return {}

    import numpy as np
    import symusic
    from note_seq import midi_io

    from pipelines import midi_fast

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # pretty_midi's tempo-on-other-tracks warning
    sizes = [os.path.getsize(p) for p in paths]

    # Correctness and fallback census (not timed).
    used_fast, reasons, unequal, both_failed, notes = 0, collections.Counter(), [], 0, 0
    for path in paths:
        try:
            reference = midi_io.midi_file_to_note_sequence(path)
        except Exception:  # noqa: BLE001
            reference = None
        with open(path, "rb") as f:
            result = midi_fast.read_midi(f.read())
        if result.fast:
            used_fast += 1
        else:
            reasons[result.reason] += 1
        if reference is None:
            both_failed += result.sequence is None
            continue
        notes += len(reference.notes)
        if result.sequence != reference:
            unequal.append(os.path.basename(path))

    def each_file(parse):
        """A pass of ``parse`` over every file (a file it cannot read counts as read)."""

        def run():
            for p in paths:
                try:
                    parse(p)
                except Exception:  # noqa: BLE001
                    pass

        return run

    def symusic_pass():
        for p in paths:
            symusic.Score(p)

    variants = {
        "note-seq midi_file_to_note_sequence": each_file(midi_io.midi_file_to_note_sequence),
        "pipelines.midi_fast (symusic)": each_file(midi_fast.midi_file_to_note_sequence),
        "symusic.Score alone (no NoteSequence)": symusic_pass,
    }
    load_before = os.getloadavg()
    times, cpu = timing.time_interleaved(variants, args.repeats)
    load_after = os.getloadavg()
    n = len(paths)
    base = "note-seq midi_file_to_note_sequence"
    rows = [
        timing.throughput_row(
            name,
            times,
            cpu,
            n,
            "files",
            ratio=min(times[base]) / min(ts),
            ratio_median=float(np.median(times[base])) / float(np.median(ts)),
            cpu_ratio=float(np.median(cpu[base])) / float(np.median(cpu[name])),
        )
        for name, ts in times.items()
    ]
    fast_row = rows[1]
    result = {
        "benchmark": "midi_parse",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": timing.machine(load_before[0], load_avg_1min_after=load_after[0]),
        "versions": {name: importlib.metadata.version(name) for name in ("symusic", "note-seq", "pretty_midi", "mido")},
        "files": n,
        "bytes": int(sum(sizes)),
        "notes": notes,
        "repeats": args.repeats,
        "fast_path_files": used_fast,
        "fallback_reasons": dict(reasons),
        "unequal_files": unequal,
        "files_neither_reads": both_failed,
        "goal_ratio": GOAL_RATIO,
        "ratio": fast_row["ratio"],
        "goal_met": fast_row["ratio"] >= GOAL_RATIO,
        "rows": rows,
        "note": args.note,
    }
    lines = [
        f"# MIDI -> NoteSequence ({n} MIDI files of music21's corpus, {sum(sizes) / 1e6:.2f} MB, {notes} notes)",
        "",
        f"{os.cpu_count()} CPU cores, one process, one file at a time; {args.repeats} interleaved timed passes "
        f"after a warm-up pass (files/s from the best pass, median in brackets); 1-min load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after." + (f" {args.note}" if args.note else ""),
        "",
        f"Goal: pipelines.midi_fast at least {GOAL_RATIO:.0f}x note-seq. Measured: **{fast_row['ratio']:.1f}x** "
        f"({'met' if result['goal_met'] else 'NOT met'}).",
        "",
        "| implementation | files/s | ratio vs note-seq | CPU ratio |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['implementation']} | {row['files_per_s']:.1f} ({row['files_per_s_median']:.1f}) | "
            f"{row['ratio']:.1f}x ({row['ratio_median']:.1f}x) | {row['cpu_ratio']:.1f}x |"
        )
    lines += [
        "",
        f"Fast path taken for {used_fast} of {n} files; fell back to note-seq for {n - used_fast}"
        + (": " + ", ".join(f"{k} ({v})" for k, v in sorted(reasons.items())) if reasons else "")
        + ".",
        f"NoteSequences equal to note-seq's: {n - len(unequal) - both_failed} of {n - both_failed}"
        + (f" (unequal: {', '.join(unequal)})" if unequal else "")
        + ".",
        "The symusic row only parses (no NoteSequence): the floor for any symusic-based reader.",
        "",
    ]
    timing.write_results(args.out, "midi_parse", result, "\n".join(lines))
    return result


if __name__ == "__main__":
    main()
