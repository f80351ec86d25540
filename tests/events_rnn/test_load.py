"""Each events-RNN family's library ``load(run_dir)``: a trained model's file or folder in, the family's
generator out, holding exactly the saved weights."""

import importlib

import numpy as np
import pytest

from events_rnn import bundle as core

GENERATORS = {
    "melody_rnn_ext": "MelodyGenerator",
    "drums_rnn_ext": "DrumsGenerator",
    "polyphony_rnn_ext": "PolyphonyGenerator",
    "performance_rnn_ext": "PerformanceGenerator",
    "improv_rnn_ext": "ImprovGenerator",
}


@pytest.mark.parametrize("package", sorted(GENERATORS))
def test_load_gives_the_familys_generator_with_the_saved_weights(package, tmp_path):
    family = importlib.import_module(f"{package}.bundle").FAMILY
    experiment = importlib.import_module(f"{package}.config").PRESETS.get("tiny")
    model = family.build_model(experiment.model, 1.0)
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.normal(0, 0.1, tuple(v.shape)).astype(np.float32))
    path = str(tmp_path / "model.mag")
    core.write_bundle(family, model, experiment.model, path)
    generator = importlib.import_module(package).load(path)
    assert type(generator).__name__ == GENERATORS[package]
    assert generator.config.config_id == experiment.model.config_id
    loaded = generator.model.tf1_variables()
    for name, var in model.tf1_variables().items():
        np.testing.assert_array_equal(loaded[name].numpy(), var.numpy(), err_msg=name)
