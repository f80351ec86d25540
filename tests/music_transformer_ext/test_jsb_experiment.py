"""bench/jsb_experiment.py: the paper's JSB experiment script, on the real JSB Chorales, tiny scale."""

import importlib.util
import json
import math
import pathlib
import sys

import numpy as np
import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "bench" / "jsb_experiment.py"


@pytest.fixture(scope="module")
def experiment():
    spec = importlib.util.spec_from_file_location("jsb_experiment", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def test_eval_batches_hold_every_token_once_within_budget(experiment):
    rng = np.random.default_rng(0)
    seqs = [rng.integers(2, 49, n).astype(np.int32) for n in (5, 300, 17, 129, 64, 700, 33)]
    batches = experiment.eval_batches(seqs, max_batch_tokens=1024, pad_multiple=64)
    rows = [row[row != 0] for b, _ in batches for row in b]
    assert sorted(map(len, rows)) == sorted(map(len, seqs))
    assert sorted(r.tobytes() for r in rows) == sorted(s.tobytes() for s in seqs)
    for b, scored in batches:
        assert b.shape[1] % 64 == 0
        assert b.shape[0] == 1 or b.size <= 1024
        np.testing.assert_array_equal(scored, (b != 0).astype(np.float32))


def test_windowed_batches_score_every_token_once(experiment):
    rng = np.random.default_rng(1)
    seqs = [rng.integers(2, 49, n).astype(np.int32) for n in (40, 300, 129, 701)]
    batches = experiment.windowed_eval_batches(seqs, window=64, max_batch_tokens=512)
    assert max(b.shape[1] for b, _ in batches) == 64
    scored_tokens = sorted(int(t) for b, s in batches for t in b[s > 0])
    assert scored_tokens == sorted(int(t) for seq in seqs for t in seq)
    assert "at least 32 tokens of context" in experiment.describe_evaluation(64)
    whole = experiment.windowed_eval_batches(seqs, window=0, max_batch_tokens=512)
    assert max(b.shape[1] for b, _ in whole) == 704


@pytest.mark.slow
def test_tiny_run_learns_and_writes_results(experiment, jsb_json, tmp_path):
    out = tmp_path / "results"
    rc = experiment.main(
        [
            "--preset",
            "jsb_baseline",
            "--scale",
            "tiny",
            "--steps",
            "50",
            "--eval_every",
            "50",
            "--valid_limit",
            "6",
            "--data",
            str(jsb_json),
            "--out",
            str(out),
            "--no_progress",
        ]
    )
    assert rc == 0
    record = json.loads((out / "jsb.json").read_text())
    run = record["runs"]["jsb_baseline@tiny"]
    assert run["steps"] == 50 and run["stopped_by"] == "steps"
    assert run["model"]["vocab_size"] == 49 and run["model"]["max_length"] >= max(
        4 * len(c) + 1 for c in json.loads(jsb_json.read_text())["valid"][:6]
    )
    steps = [h["step"] for h in run["history"]]
    assert steps == [0, 50]
    nll = [h["valid_nll_per_note"] for h in run["history"]]
    assert all(math.isfinite(x) for x in nll)
    # 6 chorales (in windows of the 64-token crop), each note once, 4 tokens per 16th step, EOS excluded
    assert run["eval_window"] == 64 and "windows of 64 tokens" in run["evaluation"]
    assert run["history"][-1]["notes"] == 4 * sum(len(c) for c in json.loads(jsb_json.read_text())["valid"][:6])
    # trained for 50 steps, the model beats the uniform distribution over the 49 ids and its own start
    assert nll[-1] < math.log(49) - 0.3
    assert nll[-1] < nll[0]
    assert run["best"]["valid_nll_per_note"] == min(nll)
    table = (out / "jsb.md").read_text()
    assert "0.417" in table and "0.357" in table and f"{run['best']['valid_nll_per_note']:.3f}" in table
