"""Melody generation from a trained Melody RNN: temperature sampling and Magenta's beam search.

Semantics follow Magenta's ``MelodyRnnModel.generate_melody`` / ``EventSequenceRnnModel._generate_events``
(re-implemented, not imported):

* the primer (a ``note_seq.Melody``; events -2 = no event, -1 = note off, 0..127 = note on) is
  squashed into the config's pitch range and key (``Melody.squash``), generated from, and the
  result is transposed back by the same amount, so the output begins with the primer exactly;
* ``num_steps`` is the length of the *whole* output, primer included (the primer must be shorter);
* the model reads the primer's inputs (``encoder_decoder.get_inputs_batch(full_length=True)``) once
  and then one input per generated event, carrying its LSTM/attention state (fast: one
  ``tf.function`` call per step for the whole beam);
* each event is drawn from ``softmax(logits / temperature)`` (``temperature <= 0`` = argmax) and
  its log-probability under that distribution is added to the sequence's score;
* beam search (``note_seq.beam_search``'s algorithm): ``beam_size`` copies of the primer are
  extended without branching for the first ``(n - 1) % steps_per_iteration + 1`` steps, then each
  iteration copies every sequence ``branch_factor`` times, extends each by
  ``steps_per_iteration`` sampled events and keeps the ``beam_size`` best scores; the best final
  sequence is returned. ``beam_size = branch_factor = 1`` is plain sampling.

Everything is deterministic given ``seed``.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from typing import List, Optional, Tuple

import numpy as np

from events_rnn.generate import GenerationError, GenerationOptions  # noqa: F401  (this module's API)
from events_rnn.generate import choose, log_softmax, parse_int_list
from melody_rnn_ext import encodings

DEFAULT_QPM = 120.0
STEPS_PER_QUARTER = encodings.STEPS_PER_QUARTER


@dataclasses.dataclass
class GeneratedMelody:
    """A generated melody (primer included, in the primer's key) and its score.

    Attributes:
      melody: ``note_seq.Melody`` of ``num_steps`` events.
      log_likelihood: sum of log-probabilities of the generated events (primer excluded), under
        the temperature-scaled softmax.
      primer_steps: how many leading events are the primer's.
    """

    melody: object
    log_likelihood: float
    primer_steps: int


def parse_primer_melody(text: str):
    """Magenta's ``--primer_melody`` list text -> ``note_seq.Melody``.

    ``"[60, -2, 60, -2, 67, -2, 67, -2]"`` (-2 no event, -1 note off, 0..127 note on). Raises
    :class:`GenerationError` on anything else.
    """
    import note_seq

    events = parse_int_list(text, "--primer_melody")
    bad = [e for e in events if not note_seq.MIN_MELODY_EVENT <= e <= note_seq.MAX_MELODY_EVENT]
    if bad:
        raise GenerationError(f"--primer_melody {text!r}: events {bad} are outside -2..127")
    return note_seq.Melody(events, steps_per_quarter=STEPS_PER_QUARTER)


def melody_from_sequence(sequence, source: str = "primer"):
    """The first melody of a NoteSequence (Magenta's generator: quantized at 4 steps per quarter,
    polyphony reduced to the top note, no minimum length); an empty one raises GenerationError."""
    import note_seq
    from note_seq import sequences_lib

    if not sequence.notes:
        raise GenerationError(f"{source}: holds no notes")
    # Only the first time signature and tempo count for a primer (quantizing refuses changes).
    sequence = copy.deepcopy(sequence)
    for field in (sequence.time_signatures, sequence.tempos):
        keep = sorted(field, key=lambda x: x.time)[:1]
        keep = [copy.deepcopy(k) for k in keep]
        del field[:]
        for k in keep:
            k.time = 0.0
            field.add().CopyFrom(k)
    try:
        quantized = sequences_lib.quantize_note_sequence(sequence, STEPS_PER_QUARTER)
    except Exception as e:  # noqa: BLE001 - note-seq's quantization errors are the primer's fault
        raise GenerationError(f"{source}: cannot quantize ({e})") from e
    best = None
    for instrument in sorted({n.instrument for n in quantized.notes if not n.is_drum}):
        melody = note_seq.Melody()
        try:
            melody.from_quantized_sequence(
                quantized,
                search_start_step=0,
                instrument=instrument,
                gap_bars=float("inf"),
                ignore_polyphonic_notes=True,
            )
        except Exception:  # noqa: BLE001 - an instrument note-seq cannot make a melody of is skipped
            continue
        if len(melody) and (best is None or melody.start_step < best.start_step):
            best = melody
    if best is None:
        raise GenerationError(f"{source}: no melody could be extracted")
    return best


def primer_from_midi(path: str) -> Tuple[object, Optional[float]]:
    """(melody, qpm or None) of a primer MIDI file; raises GenerationError naming the file."""
    import note_seq

    try:
        sequence = note_seq.midi_file_to_note_sequence(path)
    except Exception as e:  # noqa: BLE001 - any parse failure is the file's fault
        raise GenerationError(f"{path}: cannot read MIDI ({e})") from e
    qpm = sequence.tempos[0].qpm if sequence.tempos else None
    return melody_from_sequence(sequence, path), qpm


class MelodyGenerator:
    """Generates melodies from a :class:`melody_rnn_ext.model.MelodyRnnModel` and its config.

    Args:
      model: the Keras model (its dropout is never applied here).
      config: its :class:`melody_rnn_ext.config.MelodyRnnConfig` (encoding, pitch range, key).
    """

    def __init__(self, model, config):
        import tensorflow as tf

        self.model = model
        self.config = config
        self.encoder_decoder = encodings.make_encoder_decoder(config.config_id)

        @tf.function(reduce_retracing=True)
        def run(inputs, state):
            logits, final = model(inputs, training=False, initial_state=state, return_state=True)
            return logits[:, -1], final

        self._run = run

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_bundle(cls, path: str) -> "MelodyGenerator":
        """A generator over a ``.mag`` bundle's model (architecture inferred, every variable ported)."""
        from melody_rnn_ext import bundle as bundle_lib

        model, config, _ = bundle_lib.load_bundle(path)
        return cls(model, config)

    @classmethod
    def from_run_dir(cls, run_dir: str, checkpoint: Optional[str] = None) -> "MelodyGenerator":
        """A generator over a training run's newest checkpoint (or ``checkpoint``), its ``config.json``."""
        model, config, _ = load_run_checkpoint(run_dir, checkpoint)
        return cls(model, config)

    @classmethod
    def from_magenta_run(
        cls, run_dir: str, config_id: Optional[str], attn_length: Optional[int] = None
    ) -> "MelodyGenerator":
        """A generator over the newest checkpoint of Magenta's own ``melody_rnn_train`` folder
        (``RUN/train/model.ckpt-N``): architecture from the variables, ``config_id`` checked against them
        (see :mod:`melody_rnn_ext.magenta_run`)."""
        from melody_rnn_ext import magenta_run

        model, config, _ = magenta_run.load_magenta_model(run_dir, config_id, attn_length)
        return cls(model, config)

    # ------------------------------------------------------------------ generation

    def _step(self, inputs: np.ndarray, state):
        logits, final = self._run(np.asarray(inputs, np.float32), tuple(state))
        return logits.numpy().astype(np.float64), tuple(final)

    def _extend(
        self,
        sequences: List,
        states,
        scores: np.ndarray,
        steps: int,
        temperature: float,
        rng: np.random.Generator,
        inputs: Optional[np.ndarray],
    ):
        """Extend each sequence by ``steps`` events; ``inputs`` are the first call's (None: the last events')."""
        for _ in range(steps):
            if inputs is None:
                inputs = np.asarray(self.encoder_decoder.get_inputs_batch(sequences), np.float32)
            logits, states = self._step(inputs, states)
            idx, logp = choose(logits, temperature, rng)
            for seq, i in zip(sequences, idx):
                seq.append(self.encoder_decoder.class_index_to_event(int(i), seq))
            scores = scores + logp
            inputs = None
        return sequences, states, scores

    def generate_events(self, primer, options: GenerationOptions) -> Tuple[object, float]:
        """Beam search / sampling on an already squashed primer melody; returns (melody, log-likelihood)."""
        import tensorflow as tf

        if len(primer) == 0:
            raise GenerationError("the primer melody is empty")
        if len(primer) >= options.num_steps:
            raise GenerationError(
                f"the primer ({len(primer)} steps) must be shorter than num_steps ({options.num_steps})"
            )
        rng = np.random.default_rng(options.seed)
        n = options.num_steps - len(primer)
        beam = options.beam_size
        sequences = [copy.deepcopy(primer) for _ in range(beam)]
        primer_inputs = np.asarray(self.encoder_decoder.get_inputs_batch(sequences, full_length=True), np.float32)
        states = tuple(tf.zeros([beam, s]) for s in self.model.state_size)
        scores = np.zeros(beam)
        first = (n - 1) % options.steps_per_iteration + 1
        sequences, states, scores = self._extend(
            sequences, states, scores, first, options.temperature, rng, primer_inputs
        )
        for _ in range((n - first) // options.steps_per_iteration):
            k = options.branch_factor
            sequences = [copy.deepcopy(s) for _ in range(k) for s in sequences]
            states = tuple(tf.tile(s, [k, 1]) for s in states)
            scores = np.tile(scores, k)
            sequences, states, scores = self._extend(
                sequences, states, scores, options.steps_per_iteration, options.temperature, rng, None
            )
            keep = np.argsort(-scores, kind="stable")[:beam]
            sequences = [sequences[i] for i in keep]
            states = tuple(tf.gather(s, keep) for s in states)
            scores = scores[keep]
        best = int(np.argmax(scores))
        return sequences[best], float(scores[best])

    def generate(self, primer, options: GenerationOptions = GenerationOptions()) -> GeneratedMelody:
        """A melody of ``options.num_steps`` events that begins with ``primer`` (a ``note_seq.Melody``).

        The primer is squashed into the config's range and key for the model, the result is
        transposed back, so the output's first ``len(primer)`` events equal the primer's.
        """
        melody = copy.deepcopy(primer)
        transpose = melody.squash(self.config.min_note, self.config.max_note, self.config.transpose_to_key)
        out, loglik = self.generate_events(melody, options)
        out.transpose(-transpose)
        return GeneratedMelody(out, loglik, len(primer))

    def log_likelihood(self, melody, start: int = 1, squash: bool = True) -> float:
        """Sum of log p(event i | events < i) over events i >= ``start`` at temperature 1, by one
        full-sequence pass of the model. ``squash``: squash a copy into the config's range and key
        first (pass False for a melody that already is, e.g. :meth:`generate_events`' output)."""
        m = copy.deepcopy(melody)
        if squash:
            m.squash(self.config.min_note, self.config.max_note, self.config.transpose_to_key)
        inputs, labels = self.encoder_decoder.encode(m)
        logits = self.model(np.asarray([inputs], np.float32), training=False).numpy()[0].astype(np.float64)
        logp = log_softmax(logits)[np.arange(len(labels)), labels]
        return float(logp[start - 1 :].sum())


def load(run_dir: str, config_id: Optional[str] = None) -> "MelodyGenerator":
    """The trained Melody RNN of a training run, as a :class:`MelodyGenerator` (no dropout).

    Args:
      run_dir: a ``melody_rnn_train`` run folder (``config.json`` + ``ckpt-N``: its newest checkpoint),
        a run folder of Magenta's own ``melody_rnn_train`` (``train/model.ckpt-N``: the architecture read
        from its variables), or a ``.mag`` bundle file.
      config_id: Magenta's ``--config`` of a Magenta run folder (its variables cannot tell e.g.
        ``basic_rnn`` from ``mono_rnn``); ignored otherwise.
    Returns:
      a generator whose ``model`` and ``config`` (:class:`melody_rnn_ext.config.MelodyRnnConfig`) are the run's.
    Raises:
      ``ValueError`` subclasses naming the file: ``GenerationError`` (no config or checkpoint),
      ``RunFolderError``, ``BundleError``, ``PortingError``.
    """
    from melody_rnn_ext import magenta_run

    run_dir = os.fspath(run_dir)
    if os.path.isfile(run_dir):
        return MelodyGenerator.from_bundle(run_dir)
    if magenta_run.run_folder_kind(run_dir) == "magenta":
        return MelodyGenerator.from_magenta_run(run_dir, config_id)
    return MelodyGenerator.from_run_dir(run_dir)


def load_run_checkpoint(run_dir: str, checkpoint: Optional[str] = None):
    """(model without dropout, its :class:`MelodyRnnConfig`, checkpoint path) of a run of this toolkit's
    ``melody_rnn_train``: ``config.json`` and the newest ``ckpt-N`` (or ``checkpoint``).

    Raises :class:`GenerationError` naming the folder when it holds no ``config.json`` (saying what a
    run folder holds, this toolkit's or Magenta's) or no checkpoint, or the checkpoint when it lacks some
    of the model's weights.
    """
    import tensorflow as tf

    from melody_rnn_ext.config import MelodyRnnExperiment
    from melody_rnn_ext.model import build_model
    from tfmusic import config as config_lib

    cfg_path = os.path.join(run_dir, config_lib.CONFIG_FILENAME)
    if not os.path.exists(cfg_path):
        raise GenerationError(
            f"{run_dir}: no {config_lib.CONFIG_FILENAME}: not a run folder of this toolkit's melody_rnn_train "
            "(a run of Magenta's melody_rnn_train holds train/checkpoint instead)"
        )
    cfg = config_lib.load_json(MelodyRnnExperiment, cfg_path)
    path = checkpoint or tf.train.latest_checkpoint(run_dir)
    if not path:
        raise GenerationError(f"{run_dir}: holds no checkpoint yet")
    from events_rnn.task import restore_model

    model = build_model(cfg.model, dropout_keep_prob=1.0)
    try:
        restore_model(model, path)
    except ValueError as e:
        raise GenerationError(f"{e}; not a checkpoint of this run's model") from None
    return model, cfg.model, path


def melody_to_sequence(melody, qpm: float = DEFAULT_QPM, velocity: int = 100, program: int = 0):
    """``note_seq.Melody`` -> NoteSequence at ``qpm`` quarters per minute."""
    return melody.to_sequence(velocity=velocity, instrument=0, program=program, qpm=qpm)
