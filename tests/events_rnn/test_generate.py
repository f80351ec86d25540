"""The shared generator is Melody RNN's: same events and scores for the same model, primer and seed."""

import copy

import numpy as np
import pytest

from events_rnn.generate import EventSequenceGenerator, GenerationError, GenerationOptions
from melody_rnn_ext import config as config_lib
from melody_rnn_ext.generate import GenerationOptions as MelodyOptions
from melody_rnn_ext.generate import MelodyGenerator, parse_primer_melody
from melody_rnn_ext.model import build_model


@pytest.mark.parametrize("beam", [(1, 1, 1), (3, 2, 2)])
def test_matches_melody_generator(beam):
    config = config_lib.MODEL_PRESETS.get("tiny")
    model = build_model(config, dropout_keep_prob=1.0)
    rng = np.random.default_rng(1)
    for v in model.weights:
        v.assign(rng.normal(0, 0.4, tuple(v.shape)).astype(np.float32))
    primer = parse_primer_melody("[60, -2, 62, -2, 64]")
    melody_gen = MelodyGenerator(model, config)
    size, branch, spi = beam
    want, want_score = melody_gen.generate_events(
        copy.deepcopy(primer),
        MelodyOptions(
            num_steps=20, temperature=1.2, beam_size=size, branch_factor=branch, steps_per_iteration=spi, seed=7
        ),
    )
    core = EventSequenceGenerator(model, melody_gen.encoder_decoder)
    got, score = core.generate_events(
        primer,
        GenerationOptions(
            num_steps=20, temperature=1.2, beam_size=size, branch_factor=branch, steps_per_iteration=spi, seed=7
        ),
    )
    assert list(got) == list(want)
    assert score == pytest.approx(want_score, abs=1e-4)
    assert list(primer) == [60, -2, 62, -2, 64]  # the primer is not modified


def test_primer_checks():
    config = config_lib.MODEL_PRESETS.get("tiny")
    core = EventSequenceGenerator(build_model(config), MelodyGenerator(build_model(config), config).encoder_decoder)
    with pytest.raises(GenerationError, match="shorter than num_steps"):
        core.generate_events(parse_primer_melody("[60, -2]"), GenerationOptions(num_steps=2))
    with pytest.raises(GenerationError, match="not conditional"):
        core.generate_events(parse_primer_melody("[60]"), GenerationOptions(num_steps=3), control_events=[1])
