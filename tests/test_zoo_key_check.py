"""bench/zoo/key_check.py: sampling settings parse into melody_rnn_generate's flags, the continuation's
variety is measured on the generated notes only, and a run over seeds and settings writes its report."""

import argparse
import json
import pathlib
import sys

import pretty_midi
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "zoo"))
import key_check  # noqa: E402  (bench/zoo/key_check.py)


def _line(pitches, start=0.0, step=0.5):
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    for i, p in enumerate(pitches):
        inst.notes.append(pretty_midi.Note(90, p, start + i * step, start + (i + 1) * step))
    midi.instruments.append(inst)
    return midi


def test_search_parses_into_magentas_flags():
    search = key_check.Search.parse("0.9:16:4:8")
    assert search == key_check.Search(0.9, 16, 4, 8)
    flags = search.flags()
    assert flags[flags.index("--beam_size") + 1] == "16"
    assert flags[flags.index("--steps_per_iteration") + 1] == "8"
    assert "beam 16" in search.label()
    assert key_check.Search.parse("1.0:1:1:1").label() == "temperature 1.0, no beam search"
    with pytest.raises(argparse.ArgumentTypeError, match="TEMPERATURE:BEAM:BRANCH:STEPS"):
        key_check.Search.parse("1.0:16")


def test_continuation_shape_counts_the_generated_notes_and_tells_a_loop():
    primer = _line([60, 62, 64, 65])  # ends at 2.0 s
    loop = _line([60, 62, 64, 65] + [67, 65, 64, 62] * 4, step=0.5)
    varied = _line([60, 62, 64, 65] + [67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 59, 60, 64, 67, 72])
    shape = key_check.continuation_shape(primer, loop)
    assert shape["notes"] == 16  # the primer's four notes are not counted
    assert shape["distinct_pitches"] == 4
    assert shape["distinct_4grams"] == pytest.approx(4 / 13)
    assert key_check.continuation_shape(primer, varied)["distinct_4grams"] == 1.0


@pytest.mark.slow
def test_main_writes_one_row_per_setting(tmp_path):
    rc = key_check.main(
        ["--seeds", "2", "--steps", "64", "--search", "1.0:1:1:1", "--search", "1.0:4:2:8", "--results", str(tmp_path)]
    )
    assert rc == 0
    report = json.loads((tmp_path / "melody_key_check.json").read_text())
    assert [r["search"]["beam_size"] for r in report["results"]] == [1, 4]
    for result in report["results"]:
        assert [row["seed"] for row in result["rows"]] == [0, 1]
        assert all(row["primer_key"] == "F# minor" for row in result["rows"])
        assert all(0.0 <= row["in_scale_share"] <= 1.0 and row["notes"] > 0 for row in result["rows"])
        assert result["summary"]["seeds"] == 2
    text = (tmp_path / "melody_key_check.md").read_text()
    assert "| temperature 1.0, no beam search | " in text
    assert "## temperature 1.0, beam 4, branch 2, 8 steps per iteration" in text


def test_transformer_card_states_the_key_check_over_seeds():
    """The shipped transformer_chorales card is rebuilt from its model.json, and its key-over-seeds counts are
    bench/results/transformer_key_check.json's."""
    import music_transformer as zoo_transformer  # bench/zoo/music_transformer.py

    folder = REPO / "models" / zoo_transformer.NAME
    manifest = json.loads((folder / "model.json").read_text())
    assert (folder / "README.md").read_text() == zoo_transformer.card(manifest)
    record = json.loads((REPO / "bench" / "results" / "transformer_key_check.json").read_text())
    assert manifest["key_check"] == {s["sampling"]: s["summary"] for s in record["settings"]}
    for setting in record["settings"]:
        kept = sum(row["key_score"] == 1.0 for row in setting["rows"])
        assert setting["summary"]["kept"] == kept
        assert f"{setting['sampling']}: key kept in {kept} of {len(setting['rows'])}" in zoo_transformer.card(manifest)
    without = {k: v for k, v in manifest.items() if k not in ("key_check", "key_check_bach")}
    assert "Key over seeds" not in zoo_transformer.card(without)


def _result(kept, grams):
    return {"summary": {"kept": kept, "mean_distinct_4grams": grams}}


def test_choose_keeps_the_key_most_often_among_settings_that_do_not_loop():
    # plain sampling, a mild beam search, a looping one: the looping one keeps the key most often but is out
    results = [_result(67, 0.94), _result(79, 0.85), _result(98, 0.52)]
    assert key_check.choose(results) == 1
    assert key_check.choose(results, loop_margin=0.5) == 2
    assert key_check.choose([_result(70, 0.9), _result(70, 0.9)]) == 0  # a tie goes to the earlier setting
    assert key_check.choose([_result(80, 0.9), _result(60, 0.95)]) == 0
    text = key_check.markdown(
        "m",
        128,
        [
            {"search": {"temperature": 1.0, "beam_size": b, "branch_factor": b, "steps_per_iteration": 16}, **r}
            | {
                "rows": [
                    {
                        "seed": 100,
                        "primer_key": "F# minor",
                        "piece_key": "F# minor",
                        "key_score": 1.0,
                        "in_scale_share": 1.0,
                        "notes": 9,
                        "distinct_pitches": 4,
                        "distinct_4grams": 0.5,
                    }
                ],
                "summary": {**r["summary"], "seeds": 1, "in_scale": 1, "mean_notes": 9, "mean_distinct_pitches": 4},
            }
            for b, r in zip((1, 2, 16), results)
        ],
        chosen=1,
    )
    assert "seeds 100-100" in text and "Chosen (`--choose`): **temperature 1.0, beam 2, branch 2" in text
