"""GANSynth in TensorFlow 2 / Keras 3.

Spectral front end (model-independent):
  spectral_ops  mel scale and matrices, phase unwrapping, instantaneous frequency
  specgrams     SpectralConfig (+ presets) and SpecgramsHelper: waves <-> STFTs <-> specgrams <-> mel
  normalizer    SpecgramNormalizer: per-channel affine map into [-1, 1], fitted or prespecified
  data          tf.data map functions: NSynth element dicts -> (normalised specgram, one-hot pitch)

Submodules are imported explicitly (``from gansynth_tf.specgrams import SpecgramsHelper``);
importing the package itself loads nothing.
"""
