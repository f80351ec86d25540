"""GANSynth in TensorFlow 2 / Keras 3.

Spectral front end (model-independent):
  spectral_ops  mel scale and matrices, phase unwrapping, instantaneous frequency
  specgrams     SpectralConfig (+ presets) and SpecgramsHelper: waves <-> STFTs <-> specgrams <-> mel
  normalizer    SpecgramNormalizer: per-channel affine map into [-1, 1], fitted or prespecified
  data          tf.data map functions: NSynth element dicts -> (normalised specgram, one-hot pitch)

Submodules are imported explicitly (``from gansynth_tf.specgrams import SpecgramsHelper``);
importing the package itself loads nothing. ``gansynth_tf.load(run_dir)`` returns a trained run's
:class:`gansynth_tf.synthesize.GANSynthSynthesizer`.
"""


def load(run_dir):
    """The ``GANSynthSynthesizer`` of a ``gansynth_train`` run folder: see
    :func:`gansynth_tf.synthesize.load`. Imports TensorFlow."""
    from gansynth_tf.synthesize import load as _load

    return _load(run_dir)
