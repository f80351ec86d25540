"""What every events-RNN family's config module shares: the model config's derived members, the model
presets and the whole-run experiment dataclass.

A family's model config is a frozen dataclass with ``config_id``, ``hparams`` and ``description`` that
mixes in :class:`FamilyConfigMixin` and names its ids, descriptions and encoder/decoder factory as
class keywords. :func:`register_model_presets` fills a family's ``MODEL_PRESETS`` (Magenta's configs
plus tiny test presets), and :class:`EventsRnnExperiment` is the base of each family's ``*Experiment``
(:func:`family_experiment` makes one); :func:`family_presets` makes both of a family's registries.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple

from events_rnn.config import (
    EventsRnnDataConfig,
    EventsRnnHParams,
    WarmStartConfig,
    default_trainer,
    register_experiment_presets,
)
from tfmusic import config as config_lib
from tfmusic import runtime as runtime_lib
from tfmusic import training

#: Hparam overrides of every family's tiny test presets.
TINY_HPARAMS = dict(batch_size=8, rnn_layer_sizes=(16, 16), learning_rate=0.01)


class FamilyConfigMixin:
    """Members a family's model config derives from its ``config_id``.

    The family class names its supported ids, Magenta's text per id and the function mapping a config id to a
    fresh note-seq encoder/decoder as class keywords,
    ``class DrumsRnnConfig(FamilyConfigMixin, config_ids=..., descriptions=..., encoder_decoder=...)``, or sets
    them as the class attributes ``_config_ids``, ``_descriptions`` and ``_make_encoder_decoder`` (a
    ``staticmethod``).
    """

    _config_ids: Tuple[str, ...] = ()
    _descriptions: Mapping[str, str] = {}
    _make_encoder_decoder: Callable[[str], Any]

    def __init_subclass__(
        cls,
        config_ids: Optional[Tuple[str, ...]] = None,
        descriptions: Optional[Mapping[str, str]] = None,
        encoder_decoder: Optional[Callable[[str], Any]] = None,
        **kwargs,
    ):
        super().__init_subclass__(**kwargs)
        if config_ids is not None:
            cls._config_ids = config_ids
        if descriptions is not None:
            cls._descriptions = descriptions
        if encoder_decoder is not None:
            cls._make_encoder_decoder = staticmethod(encoder_decoder)

    def __post_init__(self):
        if self.config_id not in self._config_ids:
            raise ValueError(f"model.config_id {self.config_id!r} is not one of {', '.join(self._config_ids)}")

    @property
    def generator_description(self) -> str:
        """``description``, or Magenta's text for the config id."""
        return self.description or self._descriptions[self.config_id]

    def encoder_decoder(self):
        """A fresh note-seq encoder/decoder of the config."""
        return self._make_encoder_decoder(self.config_id)

    @property
    def input_size(self) -> int:
        """Floats per input step."""
        return int(self.encoder_decoder().input_size)

    @property
    def num_classes(self) -> int:
        """Softmax classes."""
        return int(self.encoder_decoder().num_classes)

    @property
    def no_event_label(self) -> int:
        """The encoder/decoder's default ("no event") class."""
        return int(self.encoder_decoder().default_event_label)


def register_model_presets(
    presets,
    config_class: type,
    config_ids: Sequence[str],
    hparams_of: Callable[[str], dict],
    tiny: Mapping[str, Tuple[str, dict]],
) -> None:
    """Fill ``presets`` (a ``tfmusic.config.PresetRegistry``) with one ``config_class`` per Magenta id
    (hparams ``hparams_of(id)``), then the tiny test presets: ``tiny[name] = (config_id, overrides)``, whose
    hparams are the id's with :data:`TINY_HPARAMS` and then ``overrides`` applied."""

    def magenta(config_id):
        return config_class(config_id=config_id, hparams=EventsRnnHParams(**hparams_of(config_id)))

    def small(config_id, overrides):
        values = {**hparams_of(config_id), **TINY_HPARAMS, **overrides}
        return config_class(config_id=config_id, hparams=EventsRnnHParams(**values))

    for config_id in config_ids:
        presets.add(config_id, lambda i=config_id: magenta(i))
    for name, (config_id, overrides) in tiny.items():
        presets.add(name, lambda i=config_id, o=overrides: small(i, o))


@dataclasses.dataclass(frozen=True)
class EventsRnnExperiment:
    """A whole training run: ``model``, ``data``, ``warm_start``, ``trainer``, ``runtime``, ``seed`` (see
    :mod:`events_rnn.task`). Each family subclasses it, giving ``model`` and ``trainer`` its own defaults."""

    model: Any = None
    data: EventsRnnDataConfig = EventsRnnDataConfig()
    warm_start: WarmStartConfig = WarmStartConfig()
    trainer: training.TrainerConfig = default_trainer(64)
    runtime: runtime_lib.RuntimeConfig = runtime_lib.RuntimeConfig()
    seed: int = 0


def family_experiment(name: str, config_class: type, module: str) -> type:
    """A family's whole-run dataclass ``name`` (defined in ``module``): an :class:`EventsRnnExperiment` whose
    ``model`` is a ``config_class`` (default ``config_class()``) and whose default trainer trains as Magenta
    does, at that model's ``hparams.batch_size`` (:func:`events_rnn.config.default_trainer`)."""
    model = config_class()
    batch_size = model.hparams.batch_size
    doc = (
        f"A whole training run of a :class:`{config_class.__name__}` (see :class:`{__name__}.EventsRnnExperiment`); "
        f"the default trainer's global batch is {batch_size}, the default model's ``hparams.batch_size``."
    )
    return dataclasses.make_dataclass(
        name,
        [
            ("model", config_class, dataclasses.field(default=model)),
            ("trainer", training.TrainerConfig, dataclasses.field(default=default_trainer(batch_size))),
        ],
        bases=(EventsRnnExperiment,),
        namespace={"__module__": module, "__doc__": doc},
        frozen=True,
    )


def family_presets(
    family: str,
    experiment_class: type,
    hparams_of: Callable[[str], dict],
    tiny: Mapping[str, Tuple[str, dict]],
) -> Tuple[config_lib.PresetRegistry, config_lib.PresetRegistry]:
    """A family's ``(MODEL_PRESETS, PRESETS)``: registries ``"{family} model"`` (one model config per Magenta
    id, the ``_config_ids`` of the experiment's model class, and per ``tiny`` test preset, see
    :func:`register_model_presets`) and ``family`` (one ``experiment_class`` per model preset, see
    :func:`events_rnn.config.register_experiment_presets`)."""
    config_class = type(experiment_class().model)
    config_ids = config_class._config_ids
    model_presets = config_lib.PresetRegistry(f"{family} model")
    register_model_presets(model_presets, config_class, config_ids, hparams_of, tiny)
    presets = config_lib.PresetRegistry(family)
    register_experiment_presets(presets, experiment_class, model_presets, config_ids, tuple(tiny))
    return model_presets, presets
