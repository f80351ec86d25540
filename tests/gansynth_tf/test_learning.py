"""Proof that GANSynth learns pitch conditioning, on a CPU (issue 3, "Proof that it learns").

A small NSynth-format set is rendered with FluidSynth from the GM SoundFont: 18 sustained,
near-harmonic acoustic programs (organs, accordions, harmonica, strings, choir, brass,
sax, reeds, flutes) x MIDI 72..79 at velocity 100 = 144 notes. ``gansynth_train`` trains
the ``cpu_learn`` preset on it (the real command: config, fitted normaliser, input
pipeline, Runner, XLA steps, checkpoint), and :class:`GANSynthSynthesizer` rebuilds the
smoothed generator from the run folder and synthesizes ``LATENTS_PER_PITCH`` notes at every
pitch. Their f0 is estimated with pYIN (``pitch_measure``).

The same notes from the untrained generator (the run's initial weights: same seed, step
0) must fail the criterion the trained generator passes, so the test can fail. The
discriminator's auxiliary classifier is also scored on every real training note.

``pytest -s`` prints the figures.
"""

import dataclasses
import json
import os
import time

import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf import config as gcfg
from gansynth_tf import synthesize as synth_lib
from gansynth_tf import train_cli
from gansynth_tf.discriminator import build_discriminator
from gansynth_tf.gan import GANSynthTask
from pipelines import nsynth_render
from tests.gansynth_tf.pitch_measure import PitchReport, pitch_report
from tfmusic.audio import read_wav

pytestmark = pytest.mark.slow

#: GM programs whose first 56 ms pYIN reads within half a semitone of the note at every pitch
#: in 72..79 (checked on the rendering: organs 20, 21, 23; harmonica 22; violin, viola,
#: string ensembles 40, 41, 48, 49; choir 52, 53; trumpet, brass 56, 61; alto sax 65;
#: English horn 69; clarinet 71; flute, pan flute, ocarina 73, 75, 79).
PROGRAMS = (20, 21, 22, 23, 40, 41, 48, 49, 52, 53, 56, 61, 65, 69, 71, 73, 75, 79)
VELOCITIES = (100,)
LATENTS_PER_PITCH = 12
LATENT_SEED = 1234
SEED = int(os.environ.get("GANSYNTH_LEARN_SEED", "0"))

# The criterion: most notes near their requested pitch (a median error under one semitone means
# more than half of the notes lie within one). Over seeds 0-2 the trained generator gives 69-84 %
# within one semitone and median errors of 0.2-0.3 semitones; the untrained one 4-9 % and 7.5-12.
# The rank correlation between requested and estimated pitch is printed but not asserted: over
# 8 adjacent semitones a few octave errors swing it between 0.3 and 0.8 from seed to seed while
# the errors themselves barely move.
MAX_MEDIAN_ERROR = 1.0  # semitones
MIN_WITHIN_1 = 0.55  # fraction of notes within one semitone


def meets_criterion(report: PitchReport) -> bool:
    """Whether generated notes follow their requested pitches (see the thresholds above)."""
    return report.median_error < MAX_MEDIAN_ERROR and report.within_1 >= MIN_WITHIN_1


@pytest.fixture(scope="module")
def learn_data(tmp_path_factory):
    """The rendered NSynth-format folder (examples.json + audio/)."""
    cfg = gcfg.get_preset("cpu_learn")
    out = tmp_path_factory.mktemp("learn_data")
    notes = nsynth_render.select_notes(PROGRAMS, range(cfg.data.min_pitch, cfg.data.max_pitch + 1), VELOCITIES)
    t0 = time.perf_counter()
    counters = nsynth_render.render_dataset(out, notes, workers=2, progress=False)
    print(f"\nrendered {counters.get('rendered')} notes in {time.perf_counter() - t0:.0f} s")
    assert counters.get("rendered") == len(notes) == len(PROGRAMS) * 8 * len(VELOCITIES), counters.summary()
    return out


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, learn_data):
    """A ``cpu_learn`` run folder trained by ``gansynth_train`` to its last step."""
    model_dir = tmp_path_factory.mktemp("learn_run") / "run"
    t0 = time.perf_counter()
    rc = train_cli.main(
        [
            "--model_dir",
            str(model_dir),
            "--train_data",
            str(learn_data),
            "--preset",
            "cpu_learn",
            "--set",
            f"model.seed={SEED}",
        ]
    )
    print(f"gansynth_train cpu_learn (seed {SEED}): {time.perf_counter() - t0:.0f} s")
    assert rc == 0
    return model_dir


def _latents_and_pitches(cfg):
    lo, hi = cfg.data.min_pitch, cfg.data.max_pitch
    pitches = np.repeat(np.arange(lo, hi + 1), LATENTS_PER_PITCH)
    latents = np.random.default_rng(LATENT_SEED).standard_normal((len(pitches), cfg.model.latent_size))
    return latents.astype(np.float32), pitches


def _real_examples(cfg, normalizer):
    """Every training note as (normalised specgrams [n, frames, freq, 2], class ids [n])."""
    helper, pitch_range = train_cli.spectral_pipeline(cfg)
    ds = train_cli.make_dataset_fn(
        dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, shuffle_buffer=0)), helper, normalizer, pitch_range
    )(tf.distribute.InputContext())
    specs, labels = zip(*[(s.numpy(), int(np.argmax(p.numpy()))) for s, p in ds])
    return np.stack(specs), np.array(labels)


def _class_accuracy(discriminator, specs, labels) -> float:
    _, logits = discriminator(tf.constant(specs), progress=None)
    return float(np.mean(np.argmax(logits.numpy(), -1) == labels))


def test_trained_generator_follows_requested_pitch_and_untrained_does_not(trained_run, learn_data):
    trained = synth_lib.GANSynthSynthesizer.from_model_dir(trained_run)
    cfg = trained.config
    assert trained.uses_ema and trained.checkpoint.endswith(f"ckpt-{cfg.trainer.train_steps}")

    # The same run at step 0: the task's initial weights (seeded by model.seed), as the Runner builds them.
    initial = GANSynthTask(cfg, dataset_fn=None)
    initial.build()
    untrained = synth_lib.GANSynthSynthesizer(cfg, initial.generator, trained.normalizer)
    moved = max(
        float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(trained.generator.weights, initial.generator.weights)
    )
    assert moved > 1e-3

    latents, pitches = _latents_and_pitches(cfg)
    sr = cfg.data.spectral.sample_rate
    reports = {
        name: pitch_report(s.synthesize(latents, pitches), pitches, sr)
        for name, s in (("untrained", untrained), ("trained", trained))
    }

    # What the measure reads on the training notes themselves (its ceiling on this data).
    meta = json.loads((learn_data / "examples.json").read_text())
    names = sorted(meta)
    real_audio = np.stack([read_wav(str(learn_data / "audio" / f"{n}.wav"))[0][: trained.audio_length] for n in names])
    real = pitch_report(real_audio, [meta[n]["pitch"] for n in names], sr)

    # The auxiliary classifier on every real training note, trained vs initial discriminator.
    specs, labels = _real_examples(cfg, trained.normalizer)
    d_trained = build_discriminator(cfg.model, cfg.data.num_pitches)
    tf.train.Checkpoint(discriminator=d_trained).restore(
        trained.checkpoint
    ).expect_partial().assert_existing_objects_matched()
    acc = {
        "trained": _class_accuracy(d_trained, specs, labels),
        "untrained": _class_accuracy(initial.discriminator, specs, labels),
    }

    print(
        f"\npitch of {len(pitches)} generated notes ({LATENTS_PER_PITCH} latents x MIDI "
        f"{cfg.data.min_pitch}..{cfg.data.max_pitch}), seed {cfg.model.seed}:"
    )
    for name in ("untrained", "trained"):
        print(f"  {name:9s}: {reports[name].summary()}")
    print(f"  real notes: {real.summary()}")
    chance = 1.0 / cfg.data.num_pitches
    print(
        f"discriminator pitch accuracy on the {len(labels)} real notes: trained {acc['trained']:.2f}, "
        f"untrained {acc['untrained']:.2f} (chance {chance:.2f})"
    )

    assert real.within_1 >= 0.9, real.summary()  # the measure works on this kind of audio
    assert meets_criterion(reports["trained"]), reports["trained"].summary()
    assert not meets_criterion(reports["untrained"]), reports["untrained"].summary()
    assert reports["trained"].within_1 >= reports["untrained"].within_1 + 0.3
    assert acc["trained"] >= 0.9 and acc["trained"] >= 4 * chance
