"""bench/zoo/transformer_harmonizer.py --from_shipped: a new run starts from the shipped tensor2tensor
weights when the old run folder is gone, counts the shipped model's steps and refuses what it cannot do."""

import json
import pathlib
import shutil
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "zoo"))
import transformer_harmonizer as zoo_harmonizer  # noqa: E402  (bench/zoo/transformer_harmonizer.py)

pytestmark = pytest.mark.slow
SMALL = ["--max_files", "6", "--set", "trainer.global_batch_size=2"]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A copy of the shipped model's checkpoint and model.json in a models folder of its own."""
    models = tmp_path_factory.mktemp("models")
    source = REPO / "models" / zoo_harmonizer.NAME
    shutil.copytree(source / "t2t", models / zoo_harmonizer.NAME / "t2t")
    shutil.copyfile(source / "model.json", models / zoo_harmonizer.NAME / "model.json")
    return models


def test_new_run_starts_from_the_shipped_weights_and_counts_their_steps(shipped, tmp_path):
    from music_transformer_ext import checkpoints

    import common  # bench/zoo/common.py

    base = json.loads((shipped / zoo_harmonizer.NAME / "model.json").read_text())["training"]
    argv = ["--work", str(tmp_path), "--stage", "train", "--from_shipped", "--models", str(shipped), *SMALL]
    assert zoo_harmonizer.main([*argv, "--steps", str(base["steps"] + 2)]) == 0
    assert (tmp_path / "run" / "ckpt-2.index").is_file()
    record = zoo_harmonizer.common.warm_start_record(tmp_path)
    assert record["steps"] == base["steps"] and record["seconds"] == base["seconds"]

    # two warm-up steps of Adam: every weight within a step's reach of the shipped one, none untrained
    start = checkpoints.port_t2t_checkpoint(str(shipped / zoo_harmonizer.NAME / "t2t"))
    _, after = common.export_t2t(tmp_path, tmp_path / "exported")
    pairs = list(zip(start.get_weights(), after.get_weights()))
    assert len(pairs) > 10 and all(a.shape == b.shape for a, b in pairs)
    assert max(float(np.max(np.abs(a - b))) for a, b in pairs) < 0.01
    assert max(float(np.max(np.abs(a))) for a, _ in pairs) > 0.1

    # the same command again resumes the run; the warm start is not redone
    assert zoo_harmonizer.main([*argv, "--steps", str(base["steps"] + 3)]) == 0
    assert (tmp_path / "run" / "ckpt-3.index").is_file()
    assert zoo_harmonizer.common.warm_start_record(tmp_path) == record
    lines = zoo_harmonizer._warm_start_lines({"steps": base["steps"] + 3, "warm_start": record})
    assert f"first {base['steps']:,} steps" in lines[1] and "other 3 steps" in lines[1]


def test_refuses_a_step_count_the_shipped_model_already_has(shipped, tmp_path):
    steps = json.loads((shipped / zoo_harmonizer.NAME / "model.json").read_text())["training"]["steps"]
    argv = ["--work", str(tmp_path), "--stage", "train", "--from_shipped", "--models", str(shipped), *SMALL]
    with pytest.raises(SystemExit, match="continues a model of"):
        zoo_harmonizer.main([*argv, "--steps", str(steps)])


def test_refuses_when_nothing_is_shipped(tmp_path):
    argv = ["--work", str(tmp_path / "w"), "--stage", "train", "--from_shipped", "--models", str(tmp_path), *SMALL]
    with pytest.raises(SystemExit, match="no shipped model"):
        zoo_harmonizer.main([*argv, "--steps", "5000"])
