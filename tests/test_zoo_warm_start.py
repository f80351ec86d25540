"""bench/zoo/melody_rnn.py --from_shipped: a new run goes on from the shipped model's weights when the
old run folder is gone, counts the shipped model's steps, resumes like any run, and refuses what it cannot do."""

import json
import pathlib
import shutil
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "zoo"))
import melody_rnn as zoo_melody_rnn  # noqa: E402  (bench/zoo/melody_rnn.py)

pytestmark = pytest.mark.slow
SMALL_BATCH = ["--set", "model.hparams.batch_size=2", "--set", "trainer.global_batch_size=2"]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A copy of the shipped model's bundle and model.json in a models folder of its own."""
    models = tmp_path_factory.mktemp("models")
    source = REPO / "models" / zoo_melody_rnn.NAME
    folder = models / zoo_melody_rnn.NAME
    folder.mkdir()
    for name in (f"{zoo_melody_rnn.CONFIG_ID}.mag", "model.json"):
        shutil.copyfile(source / name, folder / name)
    return models


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A data folder of a few pieces per collection (the script's own data stage)."""
    work = tmp_path_factory.mktemp("work")
    assert zoo_melody_rnn.main(["--work", str(work), "--stage", "data", "--limit", "4"]) == 0
    return work


def test_new_run_continues_the_shipped_weights_and_counts_their_steps(shipped, work):
    from melody_rnn_ext.generate import MelodyGenerator

    base = json.loads((shipped / zoo_melody_rnn.NAME / "model.json").read_text())["training"]
    argv = ["--work", str(work), "--stage", "train", "--from_shipped", "--models", str(shipped), *SMALL_BATCH]
    assert zoo_melody_rnn.main([*argv, "--steps", str(base["steps"] + 2)]) == 0
    assert (work / "run" / "ckpt-2.index").is_file()
    record = zoo_melody_rnn.warm_start_record(work)
    assert record["steps"] == base["steps"] and record["seconds"] == base["seconds"]

    # two Adam steps of lr 1e-3 from the bundle: every weight within a few steps' reach of the shipped one
    start = MelodyGenerator.from_bundle(str(shipped / zoo_melody_rnn.NAME / f"{zoo_melody_rnn.CONFIG_ID}.mag"))
    after = MelodyGenerator.from_run_dir(str(work / "run"))
    pairs = list(zip(start.model.get_weights(), after.model.get_weights()))
    assert len(pairs) > 4 and all(a.shape == b.shape for a, b in pairs)
    assert max(float(np.max(np.abs(a - b))) for a, b in pairs) < 0.01
    assert max(float(np.max(np.abs(a))) for a, _ in pairs) > 0.1  # the weights are trained ones, not zeros

    # the same command again resumes the run (the warm start is not redone) and counts on
    assert zoo_melody_rnn.main([*argv, "--steps", str(base["steps"] + 3)]) == 0
    assert (work / "run" / "ckpt-3.index").is_file()
    assert zoo_melody_rnn.warm_start_record(work) == record


def test_refuses_a_step_count_the_shipped_model_already_has(shipped, tmp_path):
    steps = json.loads((shipped / zoo_melody_rnn.NAME / "model.json").read_text())["training"]["steps"]
    with pytest.raises(SystemExit, match=f"continues a model of {steps} steps"):
        zoo_melody_rnn.main(
            [
                "--work",
                str(tmp_path),
                "--stage",
                "train",
                "--from_shipped",
                "--models",
                str(shipped),
                "--steps",
                str(steps),
            ]
        )


def test_refuses_when_nothing_is_shipped(tmp_path):
    with pytest.raises(SystemExit, match="no shipped model"):
        zoo_melody_rnn.main(
            [
                "--work",
                str(tmp_path / "w"),
                "--stage",
                "train",
                "--from_shipped",
                "--models",
                str(tmp_path),
                "--steps",
                "9",
            ]
        )
