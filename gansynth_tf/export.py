"""Export a GANSynth generator as a self-contained TensorFlow SavedModel.

The SavedModel holds the generator's weights and the whole path to audio as TensorFlow
ops (generator at full resolution -> denormalisation with the run's normaliser -> inverse
mel / IF specgram transform -> waves), so serving needs only TensorFlow:

    loaded = tf.saved_model.load(export_dir)
    audio = loaded.signatures["serving_default"](latent=z, pitch=p)["audio"]

Signature ``serving_default``: ``latent`` float32 [None, latent_size], ``pitch`` int32
[None] MIDI numbers -> ``{"audio": float32 [None, audio_length]}`` at ``sample_rate`` Hz
(not peak-limited). ``loaded.synthesize(latent, pitch)`` also takes int64 pitches. A pitch
outside ``min_pitch..max_pitch`` fails with ``InvalidArgumentError``.

Metadata: the module's scalar variables ``latent_size``, ``min_pitch``, ``max_pitch``,
``sample_rate``, ``audio_length``, and ``config_json`` (the run's config as JSON);
the same as ``gansynth_export.json`` beside ``saved_model.pb``.
"""

from __future__ import annotations

import json
import os
from typing import Union

import tensorflow as tf

from gansynth_tf.synthesize import GANSynthSynthesizer

METADATA_FILENAME = "gansynth_export.json"


class GANSynthServingModule(tf.Module):
    """A :class:`tf.Module` wrapping a synthesizer's generator and its inverse transform.

    Args:
      synth: the :class:`gansynth_tf.synthesize.GANSynthSynthesizer` to export (its
        generator weights are saved as they are).
    """

    def __init__(self, synth: GANSynthSynthesizer):
        super().__init__(name="gansynth_serving")
        from tfmusic import config as config_lib

        self._synth = synth
        self.generator = synth.generator
        spectral = synth.config.data.spectral
        self.latent_size = tf.Variable(synth.latent_size, dtype=tf.int32, trainable=False, name="latent_size")
        self.min_pitch = tf.Variable(synth.min_pitch, dtype=tf.int32, trainable=False, name="min_pitch")
        self.max_pitch = tf.Variable(synth.max_pitch, dtype=tf.int32, trainable=False, name="max_pitch")
        self.sample_rate = tf.Variable(spectral.sample_rate, dtype=tf.int32, trainable=False, name="sample_rate")
        self.audio_length = tf.Variable(spectral.audio_length, dtype=tf.int32, trainable=False, name="audio_length")
        self.config_json = tf.Variable(
            json.dumps(config_lib.to_dict(synth.config), sort_keys=True),
            dtype=tf.string,
            trainable=False,
            name="config_json",
        )

    @tf.function
    def synthesize(self, latent, pitch):
        """latent float32 [B, latent_size], pitch int [B] MIDI -> {"audio": float32 [B, audio_length]}."""
        synth = self._synth
        latent = tf.ensure_shape(tf.cast(latent, tf.float32), [None, synth.latent_size])
        pitch = tf.cast(pitch, tf.int32)
        checks = [
            tf.debugging.assert_equal(
                tf.shape(pitch)[0], tf.shape(latent)[0], message="latent and pitch must have the same batch size"
            ),
            tf.debugging.assert_greater_equal(
                pitch, synth.min_pitch, message=f"pitch below the model's range {synth.min_pitch}..{synth.max_pitch}"
            ),
            tf.debugging.assert_less_equal(
                pitch, synth.max_pitch, message=f"pitch above the model's range {synth.min_pitch}..{synth.max_pitch}"
            ),
        ]
        with tf.control_dependencies(checks):
            pitch = tf.identity(pitch)
        return {"audio": tf.identity(synth.synthesis_graph(latent, pitch)["audio"], name="audio")}


def export_saved_model(
    source: Union[GANSynthSynthesizer, str, os.PathLike], export_dir: Union[str, os.PathLike], **from_model_dir_kwargs
) -> str:
    """Write a SavedModel of a GANSynth generator with a ``serving_default`` signature.

    Args:
      source: a :class:`GANSynthSynthesizer`, or a training run folder (loaded with
        :meth:`GANSynthSynthesizer.from_model_dir` and ``from_model_dir_kwargs``, e.g.
        ``checkpoint=`` or ``use_ema=``).
      export_dir: the SavedModel folder to write (created; must not hold a SavedModel yet).
    Returns the export folder. Raises FileExistsError if it already holds ``saved_model.pb``.
    """
    synth = (
        source
        if isinstance(source, GANSynthSynthesizer)
        else GANSynthSynthesizer.from_model_dir(source, **from_model_dir_kwargs)
    )
    export_dir = os.fspath(export_dir)
    if os.path.exists(os.path.join(export_dir, "saved_model.pb")):
        raise FileExistsError(f"{export_dir}: already holds a SavedModel; choose a new folder")
    module = GANSynthServingModule(synth)
    serving = module.synthesize.get_concrete_function(
        tf.TensorSpec([None, synth.latent_size], tf.float32, name="latent"),
        tf.TensorSpec([None], tf.int32, name="pitch"),
    )
    # Also trace int64 pitches so `loaded.synthesize` accepts both.
    module.synthesize.get_concrete_function(
        tf.TensorSpec([None, synth.latent_size], tf.float32, name="latent"),
        tf.TensorSpec([None], tf.int64, name="pitch"),
    )
    tf.saved_model.save(module, export_dir, signatures={"serving_default": serving})
    from tfmusic import config as config_lib
    from tfmusic import files

    metadata = {
        "format": "tfmusic.gansynth.saved_model/1",
        "latent_size": synth.latent_size,
        "min_pitch": synth.min_pitch,
        "max_pitch": synth.max_pitch,
        "sample_rate": synth.sample_rate,
        "audio_length": synth.audio_length,
        "checkpoint": synth.checkpoint,
        "uses_ema": synth.uses_ema,
        "signature": {
            "inputs": {"latent": ["float32", [None, synth.latent_size]], "pitch": ["int32", [None]]},
            "outputs": {"audio": ["float32", [None, synth.audio_length]]},
        },
        "config": config_lib.to_dict(synth.config),
    }
    files.atomic_write_text(
        os.path.join(export_dir, METADATA_FILENAME), json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    )
    return export_dir
