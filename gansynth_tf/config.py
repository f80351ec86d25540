"""GANSynth run configs: frozen dataclasses with the paper's values, and named presets.

An experiment is ``GANSynthExperiment(model, data, warm_start, trainer, runtime)``:

* ``model``: :class:`GANConfig`, the networks, progressive schedule, losses and optimiser.
  Defaults are Magenta's ``mel_prog_hires`` (the paper's best "IF-Mel + H" row).
* ``data``: :class:`DataConfig`, the spectral representation
  (:class:`gansynth_tf.specgrams.SpectralConfig`: frames x freq bins, ``mel`` and ``ifreq``
  flags), the pitch range, the NSynth files and the normaliser.
* ``warm_start``: :class:`WarmStartConfig`, a Magenta GANSynth folder to fine-tune from.
* ``trainer``: :class:`tfmusic.training.TrainerConfig`; ``train_steps`` is
  ``total_num_images / global_batch_size``.
* ``runtime``: :class:`tfmusic.runtime.RuntimeConfig`.

Presets (:data:`PRESETS`): ``{phase,if,mel}_{prog,noprog}_{hires,lores}`` (Magenta's
``data_type`` / ``train_progressive`` / ``hifreqres`` axes; ``mel_prog_hires`` is Magenta's
released config), the paper's row names as aliases (``phase``, ``if``, ``if_mel``,
``phase_h``, ``if_h``, ``if_mel_h``), and ``tiny`` for CPU tests.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Tuple

from gansynth_tf.specgrams import SpectralConfig
from tfmusic import config as config_lib
from tfmusic import runtime as runtime_lib
from tfmusic import training

#: Magenta's prespecified normaliser (``mag_normalizer_a, mag_normalizer_b, p_normalizer_a, p_normalizer_b``).
MAGENTA_PRESPECIFIED_NORMALIZER = (0.0661371661726, 0.113718730221, 0.8, 0.0)


@dataclasses.dataclass(frozen=True)
class GANConfig:
    """Networks, progressive schedule, losses and optimiser of a GANSynth model.

    Network:
      latent_size: dimensions of the Gaussian latent vector (256).
      kernel_size: convolution kernel size (3).
      start_shape: (frames, freq) of the first resolution: (2, 16) for 128x1024, (4, 8) for 256x512.
      num_resolutions: number of resolutions / blocks (7); each doubles both axes.
      scale_base: factor between resolutions (2).
      fmap_base, fmap_decay, fmap_max: channels of block b are
        ``int(min(fmap_base / 2 ** (b * fmap_decay), fmap_max))`` (block 0: the last features).
      num_channels: specgram channels (2: log magnitude, IF).
      output_activation: ``tanh`` or ``linear``.
      minibatch_stddev_group_size: examples per minibatch-stddev group (0: the whole
        per-replica batch, as GANSynth).

    Schedule (in images seen = steps x global batch):
      progressive: grow progressively (False: all blocks from the start, as a plain GAN).
      stable_stage_num_images, transition_stage_num_images: 800k each.
      total_num_images: 11M (progressive), 4M for Magenta's non-progressive setting.

    Losses:
      gradient_penalty_weight / _target: WGAN-GP, 10 and 1.
      gradient_penalty_space: ``specgram`` takes the gradient with respect to the
        un-normalised specgram (Magenta's networks normalise inside, so its penalty sees
        the normaliser's scales a: 0.066 on log magnitude, 0.8 on IF); ``normalized`` with
        respect to the [-1, 1] network input.
      real_score_penalty_weight: ``weight * mean(D(real)^2)`` keeps scores near 0 (0.001).
      generator_ac_loss_weight, discriminator_ac_loss_weight: auxiliary pitch classifier
        cross-entropy weights (10 each).

    Optimiser: Adam, ``learning_rate`` 8e-4 for both, betas (0, 0.99), epsilon 1e-8
    (TF1's default, which Magenta trained with). ``generator_ema_decay``: an exponential
    moving average of the generator weights used for samples (0.999; 0 disables).
    ``seed``: weight initialisation and input-pipeline randomness (latents, GP mixing).
    """

    latent_size: int = 256
    kernel_size: int = 3
    start_shape: Tuple[int, int] = (2, 16)
    num_resolutions: int = 7
    scale_base: int = 2
    fmap_base: int = 4096
    fmap_decay: float = 1.0
    fmap_max: int = 256
    num_channels: int = 2
    output_activation: str = "tanh"
    minibatch_stddev_group_size: int = 0

    progressive: bool = True
    stable_stage_num_images: int = 800_000
    transition_stage_num_images: int = 800_000
    total_num_images: int = 11_000_000

    gradient_penalty_weight: float = 10.0
    gradient_penalty_target: float = 1.0
    gradient_penalty_space: str = "specgram"
    real_score_penalty_weight: float = 0.001
    generator_ac_loss_weight: float = 10.0
    discriminator_ac_loss_weight: float = 10.0

    generator_learning_rate: float = 8e-4
    discriminator_learning_rate: float = 8e-4
    adam_beta1: float = 0.0
    adam_beta2: float = 0.99
    adam_epsilon: float = 1e-8
    generator_ema_decay: float = 0.999
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "start_shape", tuple(int(s) for s in self.start_shape))
        if len(self.start_shape) != 2 or min(self.start_shape) < 1:
            raise ValueError(f"model.start_shape must be two positive ints, got {self.start_shape}")
        for name in (
            "latent_size",
            "kernel_size",
            "num_resolutions",
            "fmap_base",
            "fmap_max",
            "num_channels",
            "stable_stage_num_images",
            "transition_stage_num_images",
            "total_num_images",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"model.{name} must be positive, got {getattr(self, name)}")
        if self.scale_base < 2:
            raise ValueError(f"model.scale_base must be >= 2, got {self.scale_base}")
        if self.output_activation not in ("tanh", "linear"):
            raise ValueError(f"model.output_activation must be 'tanh' or 'linear', got {self.output_activation!r}")
        if self.minibatch_stddev_group_size < 0:
            raise ValueError("model.minibatch_stddev_group_size must be >= 0")
        if not 0.0 <= self.generator_ema_decay < 1.0:
            raise ValueError(f"model.generator_ema_decay must be in [0, 1), got {self.generator_ema_decay}")
        if self.gradient_penalty_space not in ("specgram", "normalized"):
            raise ValueError(
                f"model.gradient_penalty_space must be 'specgram' or 'normalized', got {self.gradient_penalty_space!r}"
            )
        if self.gradient_penalty_target <= 0:
            raise ValueError("model.gradient_penalty_target must be positive")

    def num_filters(self, block_id: int) -> int:
        """Channels of block ``block_id`` (Magenta's ``networks.num_filters``)."""
        return int(min(self.fmap_base / math.pow(2.0, block_id * self.fmap_decay), self.fmap_max))

    @property
    def final_shape(self) -> Tuple[int, int]:
        """(frames, freq) of the last resolution = the specgram shape."""
        factor = self.scale_base ** (self.num_resolutions - 1)
        return (self.start_shape[0] * factor, self.start_shape[1] * factor)

    def resolution(self, block_id: int) -> Tuple[int, int]:
        """(frames, freq) of block ``block_id`` (1-based)."""
        factor = self.scale_base ** (block_id - 1)
        return (self.start_shape[0] * factor, self.start_shape[1] * factor)

    @property
    def min_total_num_images(self) -> int:
        """Images needed to reach the last stable stage."""
        n = self.num_resolutions
        return n * self.stable_stage_num_images + (n - 1) * self.transition_stage_num_images


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """What the model is trained on.

    Attributes:
      spectral: the specgram representation: shape (frames, freq), ``mel`` and ``ifreq``
        (phase / IF / mel IF), overlap, audio length and sample rate.
      min_pitch, max_pitch: MIDI pitches conditioned on, inclusive (24..84: 61 classes).
      train_data_path: NSynth TFRecord glob or NSynth-format folder ("" until set).
      instrument_sources: NSynth sources kept (0 acoustic, as the paper).
      normalizer_path: a fitted :class:`gansynth_tf.normalizer.SpecgramNormalizer` file; ""
        uses ``prespecified_normalizer``.
      prespecified_normalizer: (mag a, mag b, phase a, phase b), Magenta's defaults.
      normalizer_margin, normalizer_num_examples: fitting settings (0.8, 1000).
      shuffle_buffer: examples in the shuffle buffer.
      balance_pitches: resample the real notes so that every pitch is equally likely, as the
        generator's pitches are (False: the data's own pitch counts, as the paper; NSynth's are
        roughly even, General MIDI renders much less so at the lowest pitches).
    """

    spectral: SpectralConfig = SpectralConfig(spec_shape=(128, 1024), mel=True, ifreq=True)
    min_pitch: int = 24
    max_pitch: int = 84
    train_data_path: str = ""
    instrument_sources: Tuple[int, ...] = (0,)
    normalizer_path: str = ""
    prespecified_normalizer: Tuple[float, float, float, float] = MAGENTA_PRESPECIFIED_NORMALIZER
    normalizer_margin: float = 0.8
    normalizer_num_examples: int = 1000
    shuffle_buffer: int = 10_000
    balance_pitches: bool = False

    def __post_init__(self):
        if not 0 <= self.min_pitch <= self.max_pitch <= 127:
            raise ValueError(f"data pitch range {self.min_pitch}..{self.max_pitch} is not within 0..127")

    @property
    def num_pitches(self) -> int:
        """One-hot depth of the pitch conditioning."""
        return self.max_pitch - self.min_pitch + 1


@dataclasses.dataclass(frozen=True)
class WarmStartConfig:
    """Fine-tuning from a Magenta GANSynth folder (``gansynth_train --warm_start DIR``).

    Attributes:
      magenta_dir: an unzipped Magenta GANSynth folder (``experiment.json`` + ``stage_NNNNN/``) whose
        final-stage weights initialise the generator (raw weights), its moving average (Magenta's EMA
        shadows) and the discriminator, strictly ("" = from scratch). The optimizers start fresh. A
        run that resumes from its own checkpoint restores that over it.
    """

    magenta_dir: str = ""


@dataclasses.dataclass(frozen=True)
class GANSynthExperiment:
    """A whole GANSynth run: ``model``, ``data``, ``warm_start``, ``trainer``, ``runtime``."""

    model: GANConfig = GANConfig()
    data: DataConfig = DataConfig()
    warm_start: WarmStartConfig = WarmStartConfig()
    trainer: training.TrainerConfig = training.TrainerConfig(
        train_steps=11_000_000 // 8,
        global_batch_size=8,
        checkpoint_every=5000,
        max_checkpoints=3,
        summary_every=100,
        media_every=1250,
    )
    runtime: runtime_lib.RuntimeConfig = runtime_lib.RuntimeConfig()

    def __post_init__(self):
        if tuple(self.model.final_shape) != tuple(self.data.spectral.spec_shape):
            raise ValueError(
                f"model.start_shape {self.model.start_shape} grown {self.model.num_resolutions - 1} times by "
                f"{self.model.scale_base} gives {self.model.final_shape}, but data.spectral.spec_shape is "
                f"{self.data.spectral.spec_shape}"
            )
        if self.model.num_channels != 2:
            raise ValueError("GANSynth specgrams have 2 channels (log magnitude, phase/IF)")


def steps_for_images(num_images: int, global_batch_size: int) -> int:
    """Optimizer steps needed to show ``num_images`` images (rounded up)."""
    return -(-int(num_images) // int(global_batch_size))


PRESETS: config_lib.PresetRegistry[GANSynthExperiment] = config_lib.PresetRegistry("gansynth")

_REPRESENTATIONS = {
    "phase": dict(mel=False, ifreq=False),
    "if": dict(mel=False, ifreq=True),
    "mel": dict(mel=True, ifreq=True),
}
_RESOLUTIONS = {"hires": ((128, 1024), (2, 16)), "lores": ((256, 512), (4, 8))}


def make_experiment(
    representation: str = "mel", progressive: bool = True, hires: bool = True, global_batch_size: int = 8
) -> GANSynthExperiment:
    """The paper's configuration for one representation (``phase``, ``if``, ``mel``),
    progressive or not, 128x1024 (``hires``) or 256x512 frequency resolution."""
    if representation not in _REPRESENTATIONS:
        raise ValueError(f"representation must be one of {sorted(_REPRESENTATIONS)}, got {representation!r}")
    spec_shape, start_shape = _RESOLUTIONS["hires" if hires else "lores"]
    total = 11_000_000 if progressive else 4_000_000
    model = GANConfig(start_shape=start_shape, progressive=progressive, total_num_images=total)
    data = DataConfig(spectral=SpectralConfig(spec_shape=spec_shape, **_REPRESENTATIONS[representation]))
    trainer = dataclasses.replace(
        GANSynthExperiment().trainer,
        global_batch_size=global_batch_size,
        train_steps=steps_for_images(total, global_batch_size),
    )
    return GANSynthExperiment(model=model, data=data, trainer=trainer)


for _rep in ("phase", "if", "mel"):
    for _prog in (True, False):
        for _res in ("hires", "lores"):
            PRESETS.add(
                f"{_rep}_{'prog' if _prog else 'noprog'}_{_res}",
                lambda r=_rep, p=_prog, h=(_res == "hires"): make_experiment(r, p, h),
            )

# The paper's row names (Table 1): "+ H" is the 128x1024 resolution; all progressive.
for _alias, _rep in (("phase", "phase"), ("if", "if"), ("if_mel", "mel")):
    PRESETS.add(_alias, lambda r=_rep: make_experiment(r, True, False))
    PRESETS.add(f"{_alias}_h", lambda r=_rep: make_experiment(r, True, True))


#: The CPU presets' networks (GANConfig fields): latent size, first resolution, resolutions and channels.
_CPU_NETWORKS = {
    "tiny": dict(latent_size=8, start_shape=(2, 4), num_resolutions=3, fmap_base=32, fmap_max=8),
    "cpu_small": dict(latent_size=64, start_shape=(2, 8), num_resolutions=6, fmap_base=256, fmap_max=32),
    "cpu_zoo": dict(latent_size=64, start_shape=(1, 16), num_resolutions=6, fmap_base=512, fmap_max=64),
    # cpu_zoo's channels at each pixel count, one block fewer, on 16x1024 specgrams
    "cpu_zoo_hf": dict(latent_size=64, start_shape=(1, 64), num_resolutions=5, fmap_base=256, fmap_max=64),
    "cpu_learn": dict(
        latent_size=16, start_shape=(1, 64), num_resolutions=3, fmap_base=16, fmap_decay=0.0, fmap_max=16
    ),
}


def _all_blocks_at_once(num_images: int, **fields) -> GANConfig:
    """A model that is not progressive: every block trains from the start, for ``num_images``."""
    return GANConfig(
        progressive=False,
        stable_stage_num_images=num_images,
        transition_stage_num_images=num_images,
        total_num_images=num_images,
        **fields,
    )


def _cpu_departures(learning_rate: float, generator_ema_decay: float) -> dict:
    """The GANConfig fields of a CPU preset's departures from the paper's losses and optimiser: the
    gradient penalty on the normalised network input, one Adam ``learning_rate`` for both networks and
    a generator EMA of ``generator_ema_decay``."""
    return dict(
        gradient_penalty_space="normalized",
        generator_learning_rate=learning_rate,
        discriminator_learning_rate=learning_rate,
        generator_ema_decay=generator_ema_decay,
    )


def _on_one_device(model: GANConfig, data: DataConfig, global_batch_size: int, **trainer_fields) -> GANSynthExperiment:
    """``model`` trained on ``data`` on one device (a CPU preset), in batches of ``global_batch_size``
    until it has seen ``model.total_num_images`` images; ``trainer_fields``: the trainer's other fields."""
    trainer = training.TrainerConfig(
        train_steps=steps_for_images(model.total_num_images, global_batch_size),
        global_batch_size=global_batch_size,
        **trainer_fields,
    )
    runtime = runtime_lib.RuntimeConfig(distribution="one_device")
    return GANSynthExperiment(model=model, data=data, trainer=trainer, runtime=runtime)


@PRESETS.register("tiny")
def tiny() -> GANSynthExperiment:
    """A CPU-sized run: 3 resolutions 2x4 -> 8x16, 8 channels, 4 pitches, 8-d latent,
    stages of 16 images, 88 images (22 steps at batch 4) in all; 64-sample audio."""
    model = GANConfig(
        stable_stage_num_images=16,
        transition_stage_num_images=16,
        total_num_images=88,
        generator_ema_decay=0.9,
        **_CPU_NETWORKS["tiny"],
    )
    data = DataConfig(
        spectral=SpectralConfig(audio_length=64, spec_shape=(8, 16)), min_pitch=60, max_pitch=63, shuffle_buffer=16
    )
    return _on_one_device(
        model, data, 4, checkpoint_every=4, max_checkpoints=2, summary_every=1, media_every=0, progress=False
    )


@PRESETS.register("cpu_small")
def cpu_small() -> GANSynthExperiment:
    """A real-audio run small enough to learn on a CPU in minutes: the first 8,192 samples
    (0.51 s) of each note as 64x256 mel-IF specgrams (512-sample frames, hop 128, 75 % overlap),
    6 resolutions from 2x8, at most 32 channels, a 64-d latent, pitches 48..72 (25 classes),
    not progressive (all blocks train from the start), batch 8, 2,000 steps."""
    model = _all_blocks_at_once(16_000, generator_ema_decay=0.99, **_CPU_NETWORKS["cpu_small"])
    data = DataConfig(
        spectral=SpectralConfig(audio_length=8192, spec_shape=(64, 256)),
        min_pitch=48,
        max_pitch=72,
        shuffle_buffer=2048,
    )
    return _on_one_device(model, data, 8, checkpoint_every=250, max_checkpoints=2, summary_every=25, media_every=500)


@PRESETS.register("cpu_zoo")
def cpu_zoo() -> GANSynthExperiment:
    """The zoo's ``gansynth_multisf`` (``bench/zoo/gansynth.py``): the largest run found to learn
    pitched notes on a 2-core CPU in a few hours.

    The first 16,384 samples (1.02 s) of each acoustic note as 32x512 mel-IF specgrams
    (1024-sample frames, hop 512), GANSynth's 61 pitches (24..84), 6 resolutions from 1x16,
    at most 64 channels, a 64-d latent, not progressive, batch 8.

    Departures from the paper, for a CPU budget (as :func:`cpu_learn`): 50 % frame overlap
    (75 %: half the frames, half the cost), Adam learning rate 2e-3 (8e-4), the gradient penalty
    on the normalised network input, generator EMA decay 0.99 (0.999).
    """
    model = _all_blocks_at_once(160_000, **_CPU_NETWORKS["cpu_zoo"], **_cpu_departures(2e-3, 0.99))
    data = DataConfig(
        spectral=SpectralConfig(audio_length=16384, spec_shape=(32, 512), overlap=0.5), shuffle_buffer=4096
    )
    return _on_one_device(model, data, 8, checkpoint_every=250, max_checkpoints=3, summary_every=50, media_every=1000)


@PRESETS.register("cpu_zoo_hf")
def cpu_zoo_hf() -> GANSynthExperiment:
    """:func:`cpu_zoo` on 16x1024 mel-IF specgrams (2048-sample frames, hop 1024) instead of 32x512:
    the same number of pixels, twice the frequency resolution (7.8 Hz bins), half the frames.

    The zoo's held-out real notes keep 94.9 % pitch accuracy through these specgrams and back, against
    89.6 % through cpu_zoo's (64.9 % against 40.5 % at MIDI 24-35; ``python bench/zoo/gansynth.py
    --stage ceiling``). 5 resolutions from 1x64 with cpu_zoo's channels at each pixel count (64, 64,
    32, 16, 8), the other settings cpu_zoo's.
    """
    base = cpu_zoo()
    model = dataclasses.replace(base.model, **_CPU_NETWORKS["cpu_zoo_hf"])
    data = dataclasses.replace(
        base.data, spectral=dataclasses.replace(base.data.spectral, spec_shape=(16, 1024), overlap=0.5)
    )
    return dataclasses.replace(base, model=model, data=data)


@PRESETS.register("cpu_learn")
def cpu_learn() -> GANSynthExperiment:
    """The learning test's run (``tests/gansynth_tf/test_learning.py``): pitch conditioning
    learned on two CPU cores (1,400 steps: about 4 min of wall time, 7 CPU-minutes).

    The first 896 samples (56 ms) of each note as 4x256 linear-IF specgrams (the paper's
    "IF" representation; 512-sample frames, hop 128, 31.25 Hz bins, so a semitone near
    MIDI 72 is about one bin); 3 resolutions from 1x64, 16 channels in every block
    (``fmap_decay`` 0), a 16-d latent, pitches 72..79 (8 classes), not progressive,
    batch 16, 1,400 steps.

    Departures from the paper, all for speed on a CPU and properties of this preset only:
    Adam learning rate 8e-3 (paper 8e-4; with 5e-3, 1,400 steps left only 54-65 % of notes
    within a semitone over seeds 0-2, against 69-84 % with 8e-3); the gradient penalty on
    the normalised network input (``gradient_penalty_space="normalized"``: in specgram
    units the fitted normaliser's small log-magnitude scale lets the critic grow steep and
    run away from the generator on so little data); generator EMA decay 0.95 (0.999).
    """
    steps = 1400
    model = _all_blocks_at_once(steps * 16, **_CPU_NETWORKS["cpu_learn"], **_cpu_departures(8e-3, 0.95))
    data = DataConfig(
        spectral=SpectralConfig(audio_length=896, spec_shape=(4, 256), **_REPRESENTATIONS["if"]),
        min_pitch=72,
        max_pitch=79,
        shuffle_buffer=256,
    )
    return _on_one_device(
        model, data, 16, checkpoint_every=steps, max_checkpoints=1, summary_every=100, media_every=0, progress=False
    )


def get_preset(name: str, overrides=()) -> GANSynthExperiment:
    """Preset ``name`` with ``a.b=value`` overrides applied (see :func:`tfmusic.config.apply_overrides`)."""
    return config_lib.apply_overrides(PRESETS.get(name), overrides)
