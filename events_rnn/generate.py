"""Event generation for any events-RNN model: temperature sampling and Magenta's beam search.

Semantics of Magenta's ``EventSequenceRnnModel._generate_events`` and ``beam_search``
(re-implemented, not imported), for any note-seq ``EventSequenceEncoderDecoder`` (or
``ConditionalEventSequenceEncoderDecoder`` with control events):

* ``num_steps`` is the length of the *whole* event sequence, primer included (the primer must be
  non-empty and shorter);
* the model reads the primer's inputs once (``get_inputs_batch(full_length=True)``) and then the
  inputs of the newly appended events, carrying its LSTM/attention state;
* each event is drawn from ``softmax(logits / temperature)`` (``temperature <= 0``: argmax) and its
  log-probability under that distribution is added to the sequence's score;
* beam search: ``beam_size`` copies of the primer are extended without branching for the first
  ``(n - 1) % steps_per_iteration + 1`` steps; then each iteration copies every sequence
  ``branch_factor`` times, extends each by ``steps_per_iteration`` events and keeps the
  ``beam_size`` best; the best final sequence is returned. ``beam_size = branch_factor = 1`` is
  plain sampling;
* ``modify_events_callback(encoder_decoder, sequences, inputs)`` (Magenta's hook, e.g. Polyphony
  RNN's primer injection) may append events to the sequences and input steps to ``inputs`` (a list
  per sequence of input vectors) after every generated event; the model then reads all of them;
* with ``control_events`` (a conditional encoder/decoder), each sequence carries its own copy of
  the controls, extended by ``extend_control_events(controls, events, state) -> state`` so they
  are one longer than the events (default: repeat the last control, Magenta's default).

Everything is deterministic given the seed.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np


class GenerationError(ValueError):
    """Bad generation arguments (primer empty or too long, bad beam settings, unreadable primer)."""


@dataclasses.dataclass(frozen=True)
class GenerationOptions:
    """How to generate.

    Attributes:
      num_steps: total length in events (RNN steps), primer included.
      temperature: softmax temperature (1.0 = the model's distribution; <= 0: always the argmax).
      beam_size: sequences kept by beam search (1 = no beam search).
      branch_factor: copies made of each kept sequence per iteration.
      steps_per_iteration: events generated between prunings.
      seed: random seed (None = nondeterministic).
    """

    num_steps: int = 128
    temperature: float = 1.0
    beam_size: int = 1
    branch_factor: int = 1
    steps_per_iteration: int = 1
    seed: Optional[int] = None

    def __post_init__(self):
        for name in ("num_steps", "beam_size", "branch_factor", "steps_per_iteration"):
            if getattr(self, name) < 1:
                raise GenerationError(f"{name} must be >= 1, got {getattr(self, name)}")


def extend_control_events_default(control_events, events, state):
    """Magenta's default: repeat the last control until there is one more control than events."""
    while len(control_events) <= len(events):
        control_events.append(control_events[-1])
    return state


def log_softmax(x: np.ndarray) -> np.ndarray:
    """log(softmax(x)) along the last axis, float64-stable."""
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def choose(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """(class index [B], its log-probability [B]) drawn from softmax(logits [B, C] / temperature)."""
    if temperature <= 0:
        logp = log_softmax(logits)
        idx = logits.argmax(axis=-1)
    else:
        logp = log_softmax(logits / temperature)
        u = rng.random((logits.shape[0], 1))
        cdf = np.cumsum(np.exp(logp), axis=-1)
        idx = np.minimum((cdf < u * cdf[:, -1:]).sum(axis=-1), logits.shape[-1] - 1)
    return idx, logp[np.arange(len(idx)), idx]


@dataclasses.dataclass
class _Beam:
    """Per-sequence generation state: events, next inputs [n, in], RNN state (flat tuple of [n_i]),
    controls and their state (None without conditioning), score."""

    events: object
    inputs: List[List[float]]
    rnn_state: Tuple[np.ndarray, ...]
    controls: object = None
    control_state: object = None
    score: float = 0.0


class EventSequenceGenerator:
    """Generates event sequences from an :class:`events_rnn.model.EventSequenceRnnModel`.

    Args:
      model: the Keras model (dropout never applied here).
      encoder_decoder: the note-seq encoder/decoder of its config.
    """

    def __init__(self, model, encoder_decoder):
        import tensorflow as tf

        self.model = model
        self.encoder_decoder = encoder_decoder

        @tf.function(reduce_retracing=True)
        def run(inputs, state):
            logits, final = model(inputs, training=False, initial_state=state, return_state=True)
            return logits[:, -1], final

        self._run = run

    # ------------------------------------------------------------------ model calls

    def _step(self, beams: List[_Beam]) -> np.ndarray:
        """Feed each beam its pending inputs, update its RNN state; returns last-step logits [B, C]."""
        logits = [None] * len(beams)
        by_length = {}
        for i, b in enumerate(beams):
            by_length.setdefault(len(b.inputs), []).append(i)
        for _, idx in sorted(by_length.items()):
            x = np.asarray([beams[i].inputs for i in idx], np.float32)
            state = tuple(np.stack([beams[i].rnn_state[k] for i in idx]) for k in range(len(self.model.state_size)))
            out, final = self._run(x, state)
            out = out.numpy().astype(np.float64)
            final = [f.numpy() for f in final]
            for j, i in enumerate(idx):
                logits[i] = out[j]
                beams[i].rnn_state = tuple(f[j] for f in final)
        return np.stack(logits)

    def _next_inputs(self, beams: List[_Beam], full_length: bool) -> None:
        ed = self.encoder_decoder
        if beams[0].controls is not None:
            for b in beams:
                b.control_state = self._extend_controls(b.controls, b.events, b.control_state)
            batch = ed.get_inputs_batch([b.controls for b in beams], [b.events for b in beams], full_length)
        else:
            batch = ed.get_inputs_batch([b.events for b in beams], full_length)
        for b, x in zip(beams, batch):
            b.inputs = [list(v) for v in x]

    def _extend(
        self, beams: List[_Beam], steps: int, temperature: float, rng: np.random.Generator, modify_events_callback
    ) -> None:
        for _ in range(steps):
            logits = self._step(beams)
            idx, logp = choose(logits, temperature, rng)
            for b, i, lp in zip(beams, idx, logp):
                b.events.append(self.encoder_decoder.class_index_to_event(int(i), b.events))
                b.score += float(lp)
            self._next_inputs(beams, full_length=False)
            if modify_events_callback is not None:
                modify_events_callback(self.encoder_decoder, [b.events for b in beams], [b.inputs for b in beams])

    # ------------------------------------------------------------------ generation

    def generate_events(
        self,
        primer,
        options: GenerationOptions,
        modify_events_callback: Optional[Callable] = None,
        control_events=None,
        control_state=None,
        extend_control_events: Callable = extend_control_events_default,
    ) -> Tuple[object, float]:
        """Extend ``primer`` (a note-seq event sequence, not modified) to ``options.num_steps`` events.

        Returns (the best sequence, its score: the summed log-probabilities of the sampled events).
        Raises :class:`GenerationError` for an empty primer or one not shorter than ``num_steps``.
        """
        if len(primer) == 0:
            raise GenerationError("the primer sequence is empty")
        if len(primer) >= options.num_steps:
            raise GenerationError(
                f"the primer ({len(primer)} events) must be shorter than num_steps ({options.num_steps})"
            )
        from note_seq.encoder_decoder import ConditionalEventSequenceEncoderDecoder

        if control_events is not None and not isinstance(self.encoder_decoder, ConditionalEventSequenceEncoderDecoder):
            raise GenerationError("control events given but the encoder/decoder is not conditional")
        self._extend_controls = extend_control_events
        rng = np.random.default_rng(options.seed)
        n = options.num_steps - len(primer)
        zero = tuple(np.zeros([s], np.float32) for s in self.model.state_size)
        first = _Beam(
            copy.deepcopy(primer),
            [],
            zero,
            copy.deepcopy(control_events) if control_events is not None else None,
            copy.deepcopy(control_state),
        )
        self._next_inputs([first], full_length=True)
        if modify_events_callback is not None:
            modify_events_callback(self.encoder_decoder, [first.events], [first.inputs])
        beams = [copy.deepcopy(first) for _ in range(options.beam_size)]
        head = (n - 1) % options.steps_per_iteration + 1
        self._extend(beams, head, options.temperature, rng, modify_events_callback)
        for _ in range((n - head) // options.steps_per_iteration):
            beams = [copy.deepcopy(b) for _ in range(options.branch_factor) for b in beams]
            self._extend(beams, options.steps_per_iteration, options.temperature, rng, modify_events_callback)
            scores = np.asarray([b.score for b in beams])
            beams = [beams[i] for i in np.argsort(-scores, kind="stable")[: options.beam_size]]
        best = max(beams, key=lambda b: b.score)
        return best.events, best.score

    def log_likelihood(self, events, start: int = 1, control_events=None) -> float:
        """Sum of log p(event i | events < i) over events i >= ``start`` at temperature 1 (one pass)."""
        ed = self.encoder_decoder
        if control_events is not None:
            inputs, labels = ed.encode(control_events, events)
        else:
            inputs, labels = ed.encode(events)
        logits = self.model(np.asarray([inputs], np.float32), training=False).numpy()[0].astype(np.float64)
        logp = log_softmax(logits)[np.arange(len(labels)), labels]
        return float(logp[start - 1 :].sum())


def parse_int_list(text: str, flag: str) -> List[int]:
    """A Magenta list flag (``"[60, 64, 67]"``) -> list of ints; :class:`GenerationError` naming ``flag``."""
    import ast

    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError) as e:
        raise GenerationError(f"{flag} {text!r}: not a Python list of ints ({e})") from None
    if isinstance(value, int):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, int) for v in value):
        raise GenerationError(f"{flag} {text!r}: expected a non-empty list of ints")
    return list(value)


def seeds_for_outputs(seed: Optional[int], count: int) -> Sequence[Optional[int]]:
    """Seed of output ``i``: ``seed + i`` (None stays None), so multi-output runs are reproducible."""
    return [None if seed is None else seed + i for i in range(count)]


def with_tempo(primer_sequence, qpm: float):
    """A copy of the primer NoteSequence, given a ``qpm`` tempo when it has none."""
    sequence = copy.deepcopy(primer_sequence)
    if not sequence.tempos:
        sequence.tempos.add().qpm = qpm
    return sequence


def quantize_primer(primer_sequence, qpm: float, steps_per_quarter: int):
    """:func:`with_tempo` of the primer, quantized to ``steps_per_quarter``; a :class:`GenerationError` when
    note-seq cannot quantize it."""
    from note_seq import sequences_lib

    sequence = with_tempo(primer_sequence, qpm)
    try:
        return sequences_lib.quantize_note_sequence(sequence, steps_per_quarter)
    except Exception as e:  # noqa: BLE001 - note-seq's quantization errors are the primer's fault
        raise GenerationError(f"primer: cannot quantize ({e})") from e


def load(family, run_dir: str, config_id: Optional[str] = None):
    """The trained model of any events-RNN family's training run (what each family's ``load`` wraps in
    its generator).

    Args:
      family: the model's :class:`events_rnn.bundle.ModelFamily`.
      run_dir: a run folder of this toolkit's ``<model>_train`` (``config.json`` + ``ckpt-N``: its newest
        checkpoint), a run folder of Magenta's own ``<model>_train`` (``train/model.ckpt-N``), or a ``.mag``.
      config_id: Magenta's ``--config`` of a Magenta run folder (needed where the family has several);
        for the others, checked against the run's when given.
    Returns:
      an :class:`events_rnn.generate_cli.LoadedModel`: ``model`` (no dropout), ``config`` (the family's model
      config), ``global_step``, ``naming``, ``source`` (the file the weights came from).
    Raises:
      ``ValueError`` subclasses naming the file (``BundleError``, ``PortingError``, ``RunFolderError``,
      ``CheckpointReadError``) when it is not a fitting model of ``family``.
    """
    from events_rnn import generate_cli

    run_dir = os.fspath(run_dir)
    if os.path.isfile(run_dir):
        return generate_cli.load_model(family, bundle_file=run_dir, config_id=config_id)
    return generate_cli.load_model(family, run_dir=run_dir, config_id=config_id)


class FamilyGenerator:
    """What every family's generator shares: ``model`` (no dropout applied), its ``config`` and ``events``, an
    :class:`EventSequenceGenerator` over the config's encoder/decoder; built from a ``.mag`` (:meth:`from_bundle`)
    or a training run (:meth:`load`) of the family whose ``bundle`` module :attr:`bundle_module` names (imported
    when called; its ``FAMILY`` reads the models)."""

    #: The family's bundle module, e.g. ``drums_rnn_ext.bundle``.
    bundle_module: str = ""

    def __init__(self, model, config):
        self.model = model
        self.config = config
        self.events = EventSequenceGenerator(model, config.encoder_decoder())

    @classmethod
    def family(cls):
        """The family's :class:`events_rnn.bundle.ModelFamily` (imports TensorFlow)."""
        import importlib

        return importlib.import_module(cls.bundle_module).FAMILY

    @classmethod
    def from_bundle(cls, path: str, *args, **kwargs):
        """A generator over a ``.mag`` of the family (architecture inferred, every variable ported); ``args`` and
        ``kwargs`` go to the constructor after the model and its config."""
        from events_rnn import bundle

        model, config, _ = bundle.load_bundle(cls.family(), path)
        return cls(model, config, *args, **kwargs)

    @classmethod
    def load(cls, run_dir: str, config_id: Optional[str] = None, *args, **kwargs):
        """A generator over the trained model of a run folder of the family's ``<model>_train`` (``config.json`` +
        ``ckpt-N``: its newest checkpoint), of a run folder of Magenta's own (``train/model.ckpt-N``; ``config_id``
        is its ``--config``, checked against the run's otherwise), or of a ``.mag`` (see :func:`load`); ``args``
        and ``kwargs`` go to the constructor. Raises ``ValueError`` subclasses naming the file."""
        loaded = load(cls.family(), run_dir, config_id)
        return cls(loaded.model, loaded.config, *args, **kwargs)


def primer_from_midi(path: str):
    """(NoteSequence of a MIDI file, its first tempo or None); :class:`GenerationError` naming an unreadable file."""
    import note_seq

    try:
        sequence = note_seq.midi_file_to_note_sequence(path)
    except Exception as e:  # noqa: BLE001 - pretty_midi / mido raise many types for a bad file
        raise GenerationError(f"--primer_midi {path}: cannot read MIDI ({e})") from e
    qpm = sequence.tempos[0].qpm if sequence.tempos and sequence.tempos[0].qpm else None
    return sequence, qpm
