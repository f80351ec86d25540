"""tfmusic.cli_support: quiet start-up (TensorFlow's C++ lines, pydub's warning, the V1 banner), --verbose,
plain-text help."""

import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfmusic import cli_support, tf1_checkpoints

# A command's first lines, as every entry point runs them: start, then the heavy imports, then its own output.
_COMMAND = """
import os, sys
from tfmusic import cli_support
cli_support.start(sys.argv[1:])
import note_seq  # pydub's "Couldn't find ffmpeg" where ffmpeg is missing
import tensorflow as tf
tf.config.list_physical_devices()  # CUDA's "failed call to cuInit" on a machine without a GPU
(tf.constant(1.0) + 1.0).numpy()
tf.get_logger().warning("a TensorFlow Python warning")
print("own output", os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
"""


def _run(argv=(), **env_changes):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", cli_support.VERBOSE_ENV, cli_support.QUIET_ENV, "PYTHONWARNINGS")
    }
    env["CI"] = "1"  # pyfluidsynth (imported by pretty_midi) prints where it found its library when CI is set
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", _COMMAND, *argv], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_no_third_party_line_unless_verbose():
    quiet = _run()
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert quiet.stdout.startswith("own output ")
    assert quiet.stdout.split()[-1] in ("2", "3")

    verbose = _run(["--verbose"])
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout.splitlines()[-1] == "own output None"  # TensorFlow's own default level
    assert "'fluidsynth' was found" in verbose.stdout  # --verbose keeps pyfluidsynth's line
    assert "a TensorFlow Python warning" in verbose.stderr
    assert verbose.stderr.strip()


@pytest.mark.slow
def test_the_users_tf_cpp_min_log_level_is_kept():
    result = _run(TF_CPP_MIN_LOG_LEVEL="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "own output 0"
    assert "a TensorFlow Python warning" in result.stderr  # the user chose TensorFlow's verbosity
    assert "Couldn't find ffmpeg" not in result.stderr  # third-party warnings stay quiet


def test_wants_verbose_reads_flags_before_the_separator(monkeypatch):
    monkeypatch.delenv(cli_support.VERBOSE_ENV, raising=False)
    assert cli_support.wants_verbose(["--input", "x", "--verbose"])
    assert not cli_support.wants_verbose(["--input", "x", "--", "--verbose"])  # Beam's, not ours
    assert not cli_support.wants_verbose([])
    monkeypatch.setenv(cli_support.VERBOSE_ENV, "1")
    assert cli_support.wants_verbose([])


def test_stderr_is_dropped_on_success_and_replayed_on_failure(capfd):
    with cli_support.discarded_stderr_fd():
        os.write(2, b"library noise\n")
    with pytest.raises(RuntimeError):
        with cli_support.discarded_stderr_fd():
            os.write(2, b"why the import failed\n")
            raise RuntimeError("boom")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "library noise" not in err
    assert "why the import failed" in err and "after" in err


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("verbose", [False, True])
def test_v1_checkpoint_banner_only_when_verbose(tmp_path, monkeypatch, verbose):
    """The demo printed TensorFlow's "V1 checkpoint format has been deprecated" banner once per .mag written:
    ``write_v1_checkpoint`` (every bundle goes through it) keeps it back unless --verbose."""
    if verbose:
        monkeypatch.setenv(cli_support.VERBOSE_ENV, "1")
    else:
        monkeypatch.delenv(cli_support.VERBOSE_ENV, raising=False)
    logger = tf.get_logger()
    records, level = _Records(), logger.level
    logger.addHandler(records)
    logger.setLevel(logging.WARNING)
    try:
        path = tf1_checkpoints.write_v1_checkpoint({"w": np.ones(3, np.float32)}, str(tmp_path / "model.ckpt"))
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
    assert tf1_checkpoints.read_checkpoint(path)["w"].tolist() == [1.0, 1.0, 1.0]
    banner = [m for m in records.messages if "V1 checkpoint format" in m]
    assert len(banner) == (1 if verbose else 0)


def test_plain_text_drops_rest_markup():
    doc = (
        "`melody_rnn_train`: see :mod:`melody_rnn_ext.config` and :class:`~tfmusic.training.Runner`;\n"
        "    ``--preset`` picks ``tiny``, :func:`events_rnn.train_cli.main` runs it::\n\n"
        "        melody_rnn_train --run_dir RUN \\\n"
    )
    text = cli_support.plain_text(doc)
    assert text == (
        "melody_rnn_train: see melody_rnn_ext.config and Runner;\n"
        "    --preset picks tiny, events_rnn.train_cli.main runs it:\n\n"
        "        melody_rnn_train --run_dir RUN \\\n"
    )
    assert cli_support.has_markup(doc) and not cli_support.has_markup(text)
    assert cli_support.plain_text(None) is None


def test_make_parser_has_verbose_and_plain_description():
    parser = cli_support.make_parser("prog", "Uses ``x`` and :func:`y`.")
    assert parser.parse_args(["--verbose"]).verbose is True
    assert parser.parse_args([]).verbose is False
    assert "Uses x and y." in parser.format_help()


def test_hidden_gpus_count_as_none(monkeypatch):
    """Where the user hid every GPU, CUDA's init fails as on a CPU machine: level 3 hides its error line."""
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert cli_support.has_gpu_device() is False
