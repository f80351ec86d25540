"""bench/run_all.py's goals table: each figure read from its benchmark's JSON and judged against its goal."""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "bench"))
import run_all  # noqa: E402  (bench/run_all.py)


def _write(folder, name, data):
    (folder / f"{name}.json").write_text(json.dumps(data))


def test_goals_are_judged_from_the_benchmarks_json(tmp_path):
    _write(tmp_path, "midi_parse", {"ratio": 12.5})
    _write(tmp_path, "dask_scaling", {"ratio": 1.5})
    _write(
        tmp_path,
        "music_transformer",
        {
            "attention": [
                {"method": "plain_skew", "length": 1024, "ratio_vs_plain_skew": 1.4},
                {"method": "naive", "length": 1024},
            ]
        },
    )
    _write(
        tmp_path, "gansynth_stages", {"totals": {"single": {"schedule_s": 300.0}, "per_stage": {"schedule_s": 100.0}}}
    )
    _write(tmp_path, "xla", {"rows": [{"auto": "off", "faster": "off"}, {"auto": "off", "faster": "on"}]})
    rows = {figure: (measured, goal, met) for figure, measured, goal, met in run_all.goal_rows(tmp_path)}
    assert rows["MIDI -> NoteSequence vs note-seq"] == ("12.50x", ">= 10x", "yes")
    assert rows["Beam on Dask, 1 -> 2 workers"] == ("1.50x", ">= 1.8x", "no")
    assert rows["relative attention vs the paper's plain skew, L=1024"] == ("1.40x", ">= 1.3x", "yes")
    assert rows["relative attention vs the paper's plain skew, L=2048"] == ("not measured", ">= 1.3x", "-")
    assert rows["GANSynth schedule, per-stage programs vs one program"][0] == "3.00x"
    assert rows["XLA auto picks the faster setting"] == ("1 of 2 families", "all", "no")
    assert rows["GANSynth synthesis, s of audio per wall s (4 s notes)"][0] == "not measured"
    table = run_all.goals_table(tmp_path)
    assert table.startswith("## Goals (issue 14)") and table.count("\n| ") == 8


def test_goals_table_of_an_empty_folder_says_not_measured(tmp_path):
    measured = [m for _, m, _, _ in run_all.goal_rows(tmp_path)]
    assert measured and all(m == "not measured" for m in measured)
