"""Random model weights for tests that need real numbers in a model (round trips, bundles, zoo entries)."""

import numpy as np


def randomize(model, seed: int = 0, scale: float = 0.2):
    """Give every weight of ``model`` (biases too) a distinct value drawn from normal(0, ``scale``) with
    ``seed``, as float32; returns the model."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        v.assign(rng.normal(0, scale, tuple(v.shape)).astype(np.float32))
    return model
