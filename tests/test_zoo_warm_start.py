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
    record = zoo_melody_rnn.common.warm_start_record(work)
    assert record["steps"] == base["steps"] and record["seconds"] == base["seconds"]
    # the run reads the repeats (the script's default Mix) from its first step: the shipped model's last
    assert zoo_melody_rnn.mix_record(work) == {
        "from_step": base["steps"],
        "mix": {"minor_repeats": 3, "chorale_repeats": 4},
    }

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
    assert zoo_melody_rnn.common.warm_start_record(work) == record


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


def test_mix_repeats_minor_tunes_and_chorale_lines(work):
    from pipelines import tfrecord_io

    mix = zoo_melody_rnn.Mix()
    assert mix.repeats("essen", "major") == 1 and mix.repeats("essen", "minor") == 3
    assert mix.repeats("bach_soprano", "major") == 4 and mix.repeats("bach_soprano", "minor") == 4
    assert zoo_melody_rnn.Mix(minor_repeats=5).repeats("bach_soprano", "minor") == 5

    records = {}
    for name in zoo_melody_rnn.COLLECTIONS:
        folder = work / "data" / name
        counts = json.loads((folder / zoo_melody_rnn.MIX_FILENAME).read_text())
        assert sum(counts["pieces_by_mode"].values()) == json.loads((folder / "collection.json").read_text())["pieces"]
        training = list(tfrecord_io.iter_records(str(folder / "training_melodies.tfrecord")))
        extra = list(tfrecord_io.iter_records(str(folder / f"{zoo_melody_rnn.MIX_PREFIX}-00000-of-00001.tfrecord")))
        assert len(extra) == counts["extra_records"]
        assert set(extra) <= set(training)  # copies of training melodies, never a held-out one
        expected = sum((int(r) - 1) * n for r, n in counts["training_melodies_by_repeats"].items())
        assert len(extra) == expected
        records[name] = (training, extra, counts)
    training, extra, counts = records["bach_soprano"]
    assert len(extra) == 3 * len(training) > 0  # every chorale line three more times
    minor_folk = sum(c["pieces_by_mode"].get("minor", 0) for n, (_, _, c) in records.items() if n != "bach_soprano")
    extra_folk = sum(len(e) for n, (_, e, _) in records.items() if n != "bach_soprano")
    assert extra_folk == 0 or minor_folk > 0  # only minor pieces repeat (one may give no training melody)


def test_card_says_what_the_mix_is_and_from_which_step():
    data = {"bach_soprano": {"train_melodies": 10}, "essen": {"train_melodies": 90}}
    mix = {
        "bach_soprano": {"extra_records": 30, "pieces_by_mode": {"major": 5, "minor": 6}},
        "essen": {"extra_records": 20, "pieces_by_mode": {"major": 80, "minor": 12}},
    }
    record = {"from_step": 2647, "mix": {"minor_repeats": 3, "chorale_repeats": 4}}
    manifest = {"data": data, "mix": mix, "training": {"steps": 3647, "mix": record}}
    text = "\n".join(zoo_melody_rnn._mix_lines(manifest) + zoo_melody_rnn._mix_step_lines(manifest["training"]))
    assert "150 melodies per pass instead of 100" in text
    assert "bach_soprano 6 of 11, essen 12 of 92" in text
    assert "from step 2,647" in text and "other 1,000 steps" in text
    assert zoo_melody_rnn._mix_lines({**manifest, "mix": {}}) == []
    assert zoo_melody_rnn._mix_step_lines({"steps": 5, "mix": {**record, "from_step": 0}}) == []
