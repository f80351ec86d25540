"""Performance RNN configs: Magenta's ``performance_model.default_configs`` as frozen dataclasses.

=================================================== ============================================ ======= =======
config id                                           encoder/decoder (note-seq)                   inputs  classes
=================================================== ============================================ ======= =======
performance                                         OneHot(PerformanceOneHotEncoding())          356     356
performance_with_dynamics                           OneHot(PerformanceOneHotEncoding(32 bins))   388     388
performance_with_dynamics_and_modulo_encoding       ModuloPerformanceEventSequenceEncoderDecoder 16      388
density_conditioned_performance_with_dynamics       Conditional(density) + with_dynamics         8+388   388
pitch_conditioned_performance_with_dynamics         Conditional(pitch histogram) + with_dynamics 12+388  388
multiconditioned_performance_with_dynamics          Conditional(density, pitch) + with_dynamics  20+388  388
optional_multiconditioned_performance_with_dynamics Conditional(Optional(density, pitch)) + ...  21+388  388
=================================================== ============================================ ======= =======

Every config: 100 steps per second, hparams ``batch_size`` 64, ``rnn_layer_sizes`` (512, 512, 512),
``dropout_keep_prob`` 1.0, ``clip_norm`` 3, ``learning_rate`` 0.001. Control signals as Magenta's config:
``NoteDensityPerformanceControlSignal(window_size_seconds=3.0, density_bin_ranges=[1, 2, 4, 8, 16, 32, 64])``
and ``PitchHistogramPerformanceControlSignal(window_size_seconds=5.0)``, joined by
``MultipleEventSequenceEncoder`` (and ``OptionalEventSequenceEncoder`` for the optional config) in a
``ConditionalEventSequenceEncoderDecoder``.

Not supported: ``performance_with_dynamics_and_note_encoding`` (its multi-softmax
``NotePerformanceEventSequenceEncoderDecoder`` graph has other variables than the shared core) and
``performance_with_dynamics_compact`` (a second config under the id ``performance_with_dynamics``, same
variables; its bundles load as ``performance_with_dynamics``). :data:`MODEL_PRESETS` adds ``tiny`` and
``tiny_conditioned`` (16-unit layers) for tests.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import note_seq
from note_seq import encoder_decoder as _ed

from events_rnn.config import EventsRnnHParams
from events_rnn.family_config import FamilyConfigMixin, family_experiment, family_presets
from performance_rnn_ext import CONFIG_IDS  # the ids, listed by the package without importing note-seq

DESCRIPTIONS = {
    "performance": "Performance RNN",
    "performance_with_dynamics": "Performance RNN with dynamics",
    "performance_with_dynamics_and_modulo_encoding": "Performance RNN with dynamics and modulo encoding",
    "density_conditioned_performance_with_dynamics": "Note-density-conditioned Performance RNN + dynamics",
    "pitch_conditioned_performance_with_dynamics": "Pitch-histogram-conditioned Performance RNN",
    "multiconditioned_performance_with_dynamics": "Density- and pitch-conditioned Performance RNN",
    "optional_multiconditioned_performance_with_dynamics": "Optionally multiconditioned Performance RNN",
}
UNSUPPORTED = {
    "performance_with_dynamics_and_note_encoding": "its NotePerformanceEventSequenceEncoderDecoder uses several softmaxes (other variables than the "
    "shared events-RNN core)",
}
STEPS_PER_SECOND = 100
HPARAMS = dict(
    batch_size=64, rnn_layer_sizes=(512, 512, 512), dropout_keep_prob=1.0, clip_norm=3.0, learning_rate=0.001
)
DENSITY_BIN_RANGES = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def check_config_id(config_id: str) -> None:
    """Raise ``ValueError`` naming the known ids unless ``config_id`` is a supported Performance RNN config."""
    if config_id in UNSUPPORTED:
        raise ValueError(f"Performance RNN config {config_id!r} is not supported: {UNSUPPORTED[config_id]}")
    if config_id not in CONFIG_IDS:
        raise ValueError(f"unknown Performance RNN config {config_id!r}; expected one of {', '.join(CONFIG_IDS)}")


def num_velocity_bins(config_id: str) -> int:
    """Velocity bins of the config's performances (0 for ``performance``, else 32)."""
    check_config_id(config_id)
    return 0 if config_id == "performance" else 32


def optional_conditioning(config_id: str) -> bool:
    """Whether conditioning can be switched off (``optional_multiconditioned_...``)."""
    return config_id.startswith("optional_")


def make_control_signals(config_id: str) -> Optional[list]:
    """Fresh note-seq control signals of the config (None when unconditioned), in Magenta's order."""
    check_config_id(config_id)
    density = note_seq.NoteDensityPerformanceControlSignal(
        window_size_seconds=3.0, density_bin_ranges=list(DENSITY_BIN_RANGES)
    )
    pitch = note_seq.PitchHistogramPerformanceControlSignal(window_size_seconds=5.0)
    if config_id == "density_conditioned_performance_with_dynamics":
        return [density]
    if config_id == "pitch_conditioned_performance_with_dynamics":
        return [pitch]
    if config_id.endswith("multiconditioned_performance_with_dynamics"):
        return [density, pitch]
    return None


def make_encoder_decoder(config_id: str) -> _ed.EventSequenceEncoderDecoder:
    """note-seq's encoder/decoder of ``config_id``, exactly as Magenta's ``PerformanceRnnConfig`` builds it."""
    bins = num_velocity_bins(config_id)
    if config_id == "performance_with_dynamics_and_modulo_encoding":
        return note_seq.ModuloPerformanceEventSequenceEncoderDecoder(num_velocity_bins=bins)
    target = _ed.OneHotEventSequenceEncoderDecoder(note_seq.PerformanceOneHotEncoding(num_velocity_bins=bins))
    signals = make_control_signals(config_id)
    if signals is None:
        return target
    control = note_seq.MultipleEventSequenceEncoder([s.encoder for s in signals])
    if optional_conditioning(config_id):
        control = note_seq.OptionalEventSequenceEncoder(control)
    return note_seq.ConditionalEventSequenceEncoderDecoder(control, target)


@dataclasses.dataclass(frozen=True)
class PerformanceRnnConfig(
    FamilyConfigMixin, config_ids=CONFIG_IDS, descriptions=DESCRIPTIONS, encoder_decoder=make_encoder_decoder
):
    """One Performance RNN: ``config_id`` (encoding and bundle id), ``hparams``, ``description`` ("" = Magenta's).

    ``input_size`` is 356, 388, 16, or 388 plus the controls' width, ``num_classes`` 356 without velocity
    (else 388), ``no_event_label`` the longest time shift; see
    :class:`events_rnn.family_config.FamilyConfigMixin`."""

    config_id: str = "performance_with_dynamics"
    hparams: EventsRnnHParams = EventsRnnHParams(**HPARAMS)
    description: str = ""

    def __post_init__(self):
        try:
            check_config_id(self.config_id)
        except ValueError as e:
            raise ValueError(f"model.config_id: {e}") from None

    @property
    def steps_per_second(self) -> int:
        """Quantization resolution: 100 steps per second (10 ms time shifts)."""
        return STEPS_PER_SECOND

    @property
    def num_velocity_bins(self) -> int:
        """0 (``performance``) or 32."""
        return num_velocity_bins(self.config_id)

    @property
    def optional_conditioning(self) -> bool:
        """Whether the controls carry a "disable conditioning" flag."""
        return optional_conditioning(self.config_id)

    def control_signals(self) -> Optional[list]:
        """Fresh note-seq control signals (None when unconditioned)."""
        return make_control_signals(self.config_id)


#: A whole Performance RNN training run, trained at the model's Magenta batch (64); see
#: :func:`events_rnn.family_config.family_experiment`.
PerformanceRnnExperiment = family_experiment("PerformanceRnnExperiment", PerformanceRnnConfig, __name__)


#: Models (MODEL_PRESETS) and whole runs (PRESETS): Magenta's seven configs and ``tiny`` /
#: ``tiny_conditioned`` (tests).
MODEL_PRESETS, PRESETS = family_presets(
    "performance_rnn",
    PerformanceRnnExperiment,
    lambda _: HPARAMS,
    {"tiny": ("performance_with_dynamics", {}), "tiny_conditioned": ("multiconditioned_performance_with_dynamics", {})},
)
