"""bench/zoo/jsb.py end to end at the tiny scale: it trains, ships t2t weights that tfmusic.zoo loads, and
its card's figures are what a fresh evaluation of the shipped weights gives."""

import json
import math
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "zoo"))
import jsb as zoo_jsb  # noqa: E402  (bench/zoo/jsb.py)

from music_transformer_ext import jsb  # noqa: E402
from tfmusic import zoo  # noqa: E402

pytestmark = pytest.mark.slow


def test_trains_ships_and_the_zoo_loads_what_the_card_reports(tmp_path, monkeypatch):
    work, models, results = tmp_path / "work", tmp_path / "models", tmp_path / "results"
    argv = ["--work", str(work), "--models", str(models), "--results", str(results), "--scale", "tiny"]
    assert zoo_jsb.main([*argv, "--steps", "30", "--eval_every", "15", "--max_minutes", "10"]) == 0

    folder = models / zoo_jsb.NAME
    manifest = json.loads((folder / "model.json").read_text())
    record = zoo_jsb.run_record(work, "tiny")
    assert record["steps"] == 30 and [h["step"] for h in record["history"]] == [0, 15, 30]
    held_out = manifest["metrics"]["held_out"]
    assert held_out["chorales"] == 76 and abs(held_out["nll_per_note"] - record["best"]["valid_nll_per_note"]) < 1e-3
    assert held_out["nll_per_note"] < math.log(jsb.VOCAB_SIZE)  # 30 steps already beat the uniform guess

    monkeypatch.setenv(zoo.ZOO_ENV, str(models))
    model = zoo.load(zoo_jsb.NAME)
    assert model.config.vocab_size == jsb.VOCAB_SIZE
    check = manifest["check"]
    fresh = zoo_jsb.validation_nll(model, jsb.load_jsb_chorales()["valid"][: check["chorales"]], check["window"])
    assert fresh["notes"] == check["metrics"]["notes"]
    assert fresh["nll_per_note"] == pytest.approx(check["metrics"]["nll_per_note"], rel=1e-5)

    card = (folder / "README.md").read_text()
    assert f"**{held_out['nll_per_note']:.3f}**" in card and "0.357" in card  # beside the paper's row
    assert len(manifest["samples"]) == len(zoo_jsb.SAMPLE_CHORALES)
    for row in manifest["samples"]:
        stem = folder / "samples" / row["file"]
        assert stem.is_file() and stem.with_suffix(".wav").is_file() and stem.with_suffix(".png").is_file()
        assert row["steps"] > zoo_jsb.PRIMER_STEPS or row["generated_steps"] == 0
    assert "jsb_relative" in (results / "jsb.md").read_text()
