"""bench/melody_rnn_real_data.py's rhythm diagnostics, checked against the model's own probabilities."""

import importlib.util
import json
import pathlib
import sys

import numpy as np
import pytest
import tensorflow as tf

from melody_rnn_ext import config as config_lib
from melody_rnn_ext import data, encodings
from melody_rnn_ext.model import build_model
from tests.melody_rnn_ext.test_task import write_melodies

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "bench" / "melody_rnn_real_data.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("melody_rnn_real_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_rhythm_diagnostics_match_the_model_probabilities(bench, tmp_path):
    write_melodies(str(tmp_path / "eval_melodies.tfrecord"), count=12, seed=3)
    cfg = config_lib.get_preset("basic_rnn", ["model.hparams.rnn_layer_sizes=[8]"]).model
    model = build_model(cfg, dropout_keep_prob=1.0)
    found = bench.rhythm_diagnostics(model, cfg, tmp_path)

    ne = encodings.no_event_label("basic_rnn")
    at_events, at_rest, wins = [], [], []
    for inputs, labels, lengths in data.make_sequence_example_dataset(
        str(tmp_path / "eval_melodies.tfrecord"), cfg.input_size, 5, shuffle=False
    ):
        probs = tf.nn.softmax(model(inputs)).numpy()
        for b, n in enumerate(lengths.numpy()):
            for t in range(n):
                p, y = probs[b, t], int(labels.numpy()[b, t])
                if y == ne:
                    at_rest.append(1 - p[ne])
                else:
                    at_events.append(1 - p[ne])
                    wins.append(max(p[k] for k in range(len(p)) if k != ne) > p[ne])
    assert at_events and at_rest  # the patterned melodies hold notes and change them
    assert found["p_event_at_event_steps"] == pytest.approx(np.mean(at_events), abs=1e-5)
    assert found["p_event_at_no_event_steps"] == pytest.approx(np.mean(at_rest), abs=1e-5)
    assert found["event_beats_no_event"] == pytest.approx(np.mean(wins))


def test_table_shows_the_diagnostics_when_present(bench, tmp_path):
    run = {"perplexity": 2.5, "accuracy": 0.8, "event_accuracy": 0.0, "seconds": 10.0}
    result = {
        "config_id": "basic_rnn",
        "preset": "basic_rnn",
        "rnn_layer_sizes": [64, 64],
        "batch_size": 64,
        "learning_rate": 0.001,
        "steps": 10,
        "total_seconds": 30.0,
        "machine": "test",
        "date": "today",
        "data": {
            "chorales": {"pieces": 3, "eval_melodies": 1, "train_melodies": 2},
            "folk": {"pieces": 4, "train_melodies": 3},
        },
        "runs": {
            "folk": dict(run),
            "folk_bundle_zero_shot": dict(run),
            "scratch": dict(run),
            "finetuned": dict(run, p_event_at_event_steps=0.537, p_event_at_no_event_steps=0.114),
        },
        "case_study": bench.CASE_STUDY,
    }
    bench.write_results(tmp_path, result)
    table = (tmp_path / "melody_rnn_real_data.md").read_text()
    assert "| 0.54 / 0.11 |" in table and table.count("| - |") >= 2
    assert json.loads((tmp_path / "melody_rnn_real_data.json").read_text()) == result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["melody_rnn_real_data.json", "melody_rnn_real_data.md"]


def test_rescore_without_results_names_the_missing_file(bench, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--rescore", "--out", str(tmp_path / "results"), "--work", str(tmp_path / "work")])
    assert exit_info.value.code == 2
    assert "melody_rnn_real_data.json: no results to rescore" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()
