"""A resume whose flags contradict the run's saved config is an error naming both values (issue 16);
``--set`` overrides stay allowed. (melody_rnn_train's --config / --preset / --bundle: tests/melody_rnn_ext/test_cli.py.)"""

import json

import pytest

from tfmusic import config as config_lib

GANSYNTH_FAST = [
    "--set",
    "trainer.train_steps=1",
    "--set",
    "trainer.checkpoint_every=1",
    "--set",
    "runtime.jit_compile=false",
    "--set",
    "data.instrument_sources=[]",
    "--set",
    "data.normalizer_num_examples=8",
    "--set",
    "data.shuffle_buffer=4",
]


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_gansynth_resume_with_another_preset_is_refused(nsynth_sample_dir, tmp_path, capsys):
    from gansynth_tf import train_cli

    run = tmp_path / "run"
    base = ["--model_dir", str(run), "--train_data", str(nsynth_sample_dir)]
    assert train_cli.main(base + ["--preset", "tiny"] + GANSYNTH_FAST) == 0
    assert config_lib.has_checkpoint(str(run))
    assert json.loads((run / config_lib.RUN_FLAGS_FILENAME).read_text())["--preset"] == "tiny"
    capsys.readouterr()
    before = _snapshot(run)
    assert train_cli.main(base + ["--preset", "cpu_small"]) == 2
    err = capsys.readouterr().err
    assert "--preset tiny" in err and "--preset cpu_small" in err and str(run) in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert _snapshot(run) == before
    # the same preset, or none, resumes; --set changes a field of the saved config
    assert train_cli.main(base + ["--preset", "tiny", "--set", "trainer.train_steps=2"]) == 0
    assert "resuming" in capsys.readouterr().out
    saved = json.loads((run / "config.json").read_text())
    assert saved["trainer"]["train_steps"] == 2 and saved["model"]["latent_size"] == 8
    assert train_cli.main(base + ["--set", "trainer.train_steps=3"]) == 0


def test_gansynth_resume_of_a_default_run_with_a_preset_is_refused(nsynth_sample_dir, tmp_path, capsys):
    """Without --preset a run is mel_prog_hires (recorded); asking for tiny on it names both."""
    from gansynth_tf import train_cli
    from gansynth_tf.config import get_preset

    run = tmp_path / "run"
    plan = config_lib.plan_run_config(
        str(run), get_preset("mel_prog_hires"), [], {"--preset": config_lib.RunFlag("mel_prog_hires", given=False)}
    )
    plan.write()
    (run / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    before = _snapshot(run)
    assert train_cli.main(["--model_dir", str(run), "--train_data", str(nsynth_sample_dir), "--preset", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "--preset mel_prog_hires" in err and "--preset tiny" in err, err
    assert _snapshot(run) == before


def test_music_transformer_and_classifier_resumes_with_another_preset_are_refused(tmp_path, capsys):
    from music_eval import classifier
    from music_transformer_ext import train_cli

    run = tmp_path / "mt"
    config_lib.plan_run_config(
        str(run), train_cli.base_experiment("tiny"), [], {"--preset": config_lib.RunFlag("tiny")}
    ).write()
    (run / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    before = _snapshot(run)
    assert train_cli.main(["--model_dir", str(run), "--jsb", "--preset", "jsb_relative"]) == 2
    err = capsys.readouterr().err
    assert "--preset tiny" in err and "--preset jsb_relative" in err, err
    assert _snapshot(run) == before

    run = tmp_path / "clf"
    config_lib.plan_run_config(
        str(run), classifier.PRESETS.get("gansynth"), [], {"--preset": config_lib.RunFlag("gansynth", given=False)}
    ).write()
    (run / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    before = _snapshot(run)
    assert classifier.main([str(run), "--preset", "tiny", "--train_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--preset gansynth" in err and "--preset tiny" in err, err
    assert _snapshot(run) == before
