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


def test_melody_card_states_the_key_checks_and_the_study_uses_the_chosen_setting():
    """The shipped melody_rnn_attention card is rebuilt from its model.json; its key counts are those of
    bench/results/<stem>.json, and tfmusic_study's default sampling is the setting --choose picked."""
    import melody_rnn as zoo_melody  # bench/zoo/melody_rnn.py
    from case_study import study

    folder = REPO / "models" / zoo_melody.NAME
    manifest = json.loads((folder / "model.json").read_text())
    assert (folder / "README.md").read_text() == zoo_melody.card(manifest)
    for stem, record in manifest["key_checks"].items():
        report = json.loads((REPO / "bench" / "results" / f"{stem}.json").read_text())
        assert record["first_seed"] == report["results"][0]["rows"][0]["seed"]
        assert [s["kept"] for s in record["settings"]] == [
            sum(row["key_score"] == 1.0 for row in r["rows"]) for r in report["results"]
        ]
        assert [s["first_seed_key"] for s in record["settings"]] == [
            r["rows"][0]["piece_key"] for r in report["results"]
        ]
        if record["chosen"]:
            assert record["chosen"] == key_check.Search(**report["chosen"]).label()
    config = study.StudyConfig()
    default = key_check.Search(
        config.temperature, config.melody_beam_size, config.melody_branch_factor, config.melody_steps_per_iteration
    )
    assert manifest["key_checks"]["melody_key_select"]["chosen"] == default.label()
    assert "The study's primer over seeds" not in zoo_melody.card(
        {k: v for k, v in manifest.items() if k != "key_checks"}
    )


def test_card_flag_refuses_a_model_whose_card_is_not_melody_rnns(tmp_path, capsys):
    with pytest.raises(SystemExit, match="not found"):
        key_check.main(["--model", "no_such_model", "--card", "--results", str(tmp_path)])
    with pytest.raises(SystemExit, match="is not melody_rnn_attention's"):
        key_check.main(["--model", "transformer_chorales", "--card", "--results", str(tmp_path)])
    assert not list(tmp_path.iterdir())  # refused before sampling anything


@pytest.mark.slow
def test_card_flag_adds_the_counts_to_a_copy_of_the_zoo_model(tmp_path):
    import shutil

    import melody_rnn as zoo_melody  # bench/zoo/melody_rnn.py

    models = tmp_path / "models"
    shutil.copytree(REPO / "models" / zoo_melody.NAME, models / zoo_melody.NAME)
    argv = ["--models", str(models), "--card", "--choose", "--seeds", "1", "--first_seed", "7", "--steps", "80"]
    argv += ["--search", "1.0:1:1:1", "--search", "1.0:2:2:16", "--name", "trial", "--results", str(tmp_path)]
    assert key_check.main(argv) == 0
    manifest = json.loads((models / zoo_melody.NAME / "model.json").read_text())
    record = manifest["key_checks"]["trial"]
    assert record["first_seed"] == 7 and record["seeds"] == 1 and len(record["settings"]) == 2
    assert "melody_key_select" in manifest["key_checks"]  # earlier records stay
    card = (models / zoo_melody.NAME / "README.md").read_text()
    assert card == zoo_melody.card(manifest) and "Seeds 7-7 (`bench/results/trial.md`):" in card
    assert (tmp_path / "trial.md").is_file()
