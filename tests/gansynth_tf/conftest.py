"""Fixtures for the GANSynth front-end tests: the real NSynth sample notes as arrays."""

import json

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session")
def sample_notes(nsynth_sample_dir):
    """(names, waves float32 [12, 64000], metadata dicts) of the 12 real NSynth notes."""
    meta = json.loads((nsynth_sample_dir / "examples.json").read_text())
    names = sorted(meta)
    waves = []
    for name in names:
        audio, sr = sf.read(nsynth_sample_dir / "audio" / f"{name}.wav", dtype="float32")
        assert sr == 16000 and audio.shape == (64000,)
        waves.append(audio)
    return names, np.stack(waves), [meta[n] for n in names]


@pytest.fixture(scope="session")
def sample_waves(sample_notes):
    """float32 [12, 64000] real NSynth notes."""
    return sample_notes[1]
