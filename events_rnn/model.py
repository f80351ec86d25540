"""The events-RNN core as a Keras model: TF1-exact LSTM stack, optional attention, output layer.

Every Magenta RNN model (Melody, Performance, Polyphony, Drums, Improv RNN) is this one graph
over a different encoding. Magenta's graph (``events_rnn_graph.build_graph``) is ``dynamic_rnn`` over
``MultiRNNCell([DropoutWrapper(BasicLSTMCell(n), output_keep_prob=p) for n in rnn_layer_sizes])``
(with ``AttentionCellWrapper`` around the first cell, or, in older bundles, around the whole
``MultiRNNCell``) followed by ``tf.contrib.layers.linear`` to the class logits. This module
rebuilds that structure from Keras layers that hold exactly TF1's variables:

* :class:`TF1LSTMCell`: TF1 ``BasicLSTMCell``. One ``kernel`` [in + units, 4 units] over
  ``concat([x, h])`` and one ``bias`` [4 units], gates in TF1's order i, j, f, o, and
  ``forget_bias`` (1.0) added to f at run time, not stored::

      i, j, f, o = split(concat([x, h]) @ kernel + bias, 4)
      c' = c * sigmoid(f + forget_bias) + sigmoid(i) * tanh(j);   h' = tanh(c') * sigmoid(o)

  Design choice: we keep TF1's own parameterisation instead of Keras' ``LSTMCell`` (``kernel`` +
  ``recurrent_kernel``, gates i, f, c, o, forget bias stored in ``bias``). Porting and writing
  bundles is then the identity (bit-exact round trips; no "+1 then -1" on the forget bias that
  float32 cannot undo), the numerics are TF1's, and the step XLA-compiles as a plain loop.
  :func:`tf1_lstm_to_keras` / :func:`keras_lstm_to_tf1` convert weights for anyone who wants
  ``keras.layers.LSTM`` (e.g. cuDNN inference) instead.
* :class:`TF1MultiRNNCell`: ``MultiRNNCell`` with ``DropoutWrapper(output_keep_prob)`` on each
  cell (TF1 draws a fresh mask per step; so do we).
* :class:`events_rnn.attention.AttentionCellWrapper`.
* ``fully_connected``: a Dense layer (TF1 ``fully_connected/weights``, ``biases``).

States are flat tuples of [B, n] tensors in TF1's ``nest.flatten`` order, which is also the
order of Magenta's ``initial_state`` / ``final_state`` collections: per LSTM ``(c, h)``; the
attention wrapper appends ``(attns, attn_states)`` after its cell's states.

:meth:`EventSequenceRnnModel.tf1_variables` names every Keras variable with its TF1 checkpoint name
(``rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel`` ...), which is what
:mod:`events_rnn.bundle` ports and writes.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from events_rnn.attention import AttentionCellWrapper

State = Tuple[tf.Tensor, ...]

ATTENTION_LAYOUTS = ("first_layer", "whole_stack")
#: Leaf names of RNN-cell linear maps: TF >= 1.2 ("kernel", "bias") and TF 1.0 / 1.1 ("weights", "biases").
NAMINGS = {"kernel": ("kernel", "bias"), "weights": ("weights", "biases")}
RNN_SCOPE = "rnn"
OUTPUT_SCOPE = "fully_connected"


def tf1_lstm_step(inputs, state: State, kernel, bias, forget_bias: float = 1.0) -> Tuple[tf.Tensor, State]:
    """TF1 ``BasicLSTMCell.call``: (inputs [B, in], (c, h)) -> (h', (c', h'))."""
    c, h = state
    z = tf.matmul(tf.concat([inputs, h], axis=1), kernel) + bias
    i, j, f, o = tf.split(z, 4, axis=1)
    new_c = c * tf.sigmoid(f + forget_bias) + tf.sigmoid(i) * tf.tanh(j)
    new_h = tf.tanh(new_c) * tf.sigmoid(o)
    return new_h, (new_c, new_h)


def tf1_lstm_to_keras(
    kernel: np.ndarray, bias: np.ndarray, input_size: int, forget_bias: float = 1.0
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TF1 ``BasicLSTMCell`` weights -> ``keras.layers.LSTMCell`` (kernel, recurrent_kernel, bias).

    kernel [in + u, 4u] is split into the input rows [in, 4u] and the recurrent rows [u, 4u];
    gate columns go from TF1's i, j, f, o to Keras' i, f, c, o; ``forget_bias`` is added to the
    stored forget-gate bias (Keras has no run-time forget bias).
    """
    kernel, bias = np.asarray(kernel), np.asarray(bias)
    i, j, f, o = np.split(np.arange(kernel.shape[1]), 4)
    order = np.concatenate([i, f, j, o])
    k = kernel[:, order]
    b = bias[order].copy()
    u = kernel.shape[1] // 4
    b[u : 2 * u] += forget_bias
    return k[:input_size], k[input_size:], b


def keras_lstm_to_tf1(
    kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray, forget_bias: float = 1.0
) -> Tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`tf1_lstm_to_keras`: Keras (kernel, recurrent_kernel, bias) -> TF1 (kernel, bias)."""
    k = np.concatenate([np.asarray(kernel), np.asarray(recurrent_kernel)], axis=0)
    b = np.asarray(bias).copy()
    u = k.shape[1] // 4
    b[u : 2 * u] -= forget_bias
    i, f, c, o = np.split(np.arange(k.shape[1]), 4)
    order = np.concatenate([i, c, f, o])
    return k[:, order], b[order]


# --------------------------------------------------------------------------- cells


@keras.saving.register_keras_serializable(package="events_rnn")
class TF1LSTMCell(keras.layers.Layer):
    """TF1 ``BasicLSTMCell(units, forget_bias)`` (see the module docstring for the equations).

    Variables: ``kernel`` [in + units, 4 units] (Glorot uniform, TF1's default) and ``bias``
    [4 units] (zeros). Call: ``(inputs [B, in], (c, h)) -> (h' [B, units], (c', h'))``.
    """

    def __init__(self, units: int, forget_bias: float = 1.0, **kwargs):
        kwargs.setdefault("name", "basic_lstm_cell")
        super().__init__(**kwargs)
        self.units = int(units)
        self.forget_bias = float(forget_bias)

    @property
    def state_size(self) -> Tuple[int, int]:
        """(c, h) widths."""
        return (self.units, self.units)

    @property
    def output_size(self) -> int:
        return self.units

    def build(self, input_shape):
        in_dim = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=(in_dim + self.units, 4 * self.units), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(4 * self.units,), initializer="zeros")

    def call(self, inputs, states, dropout_masks=None):
        return tf1_lstm_step(inputs, tuple(states), self.kernel, self.bias, self.forget_bias)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "forget_bias": self.forget_bias}


@keras.saving.register_keras_serializable(package="events_rnn")
class TF1MultiRNNCell(keras.layers.Layer):
    """TF1 ``MultiRNNCell`` of cells each wrapped in ``DropoutWrapper(output_keep_prob)``.

    Args:
      cells: the layers ``cell_0``, ``cell_1``, ... bottom first.
    Call: ``(inputs [B, in], flat state, dropout_masks=None) -> (top output, new flat state)``.
    ``dropout_masks``: one [B, cell.output_size] multiplier per cell (0 or 1/keep_prob), applied
    to that cell's output before the next cell (and the model's output layer) sees it; None in
    inference. The states themselves are never dropped (as TF1).
    """

    def __init__(self, cells: Sequence[keras.layers.Layer], **kwargs):
        kwargs.setdefault("name", "multi_rnn_cell")
        super().__init__(**kwargs)
        self.cells = list(cells)
        if not self.cells:
            raise ValueError("TF1MultiRNNCell needs at least one cell")
        # Keras 3 keeps a list of layers out of TensorFlow's object graph, so a tf.train.Checkpoint
        # would silently skip the cells; an attribute per cell puts them in it.
        for i, cell in enumerate(self.cells):
            setattr(self, f"cell_{i}", cell)

    @property
    def state_size(self) -> Tuple[int, ...]:
        return tuple(s for cell in self.cells for s in cell.state_size)

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size

    @property
    def dropout_sizes(self) -> Tuple[int, ...]:
        """Widths of the per-cell dropout masks."""
        return tuple(cell.output_size for cell in self.cells)

    def build(self, input_shape):
        width = int(input_shape[-1])
        for cell in self.cells:
            if not cell.built:
                cell.build((None, width))
            width = cell.output_size

    def call(self, inputs, states, dropout_masks=None):
        states = tuple(states)
        x, new_states, k = inputs, [], 0
        for i, cell in enumerate(self.cells):
            n = len(cell.state_size)
            x, cell_state = cell(x, states[k : k + n])
            k += n
            if dropout_masks is not None:
                x = x * dropout_masks[i]
            new_states.extend(cell_state)
        return x, tuple(new_states)

    def get_config(self):
        return {**super().get_config(), "cells": [keras.saving.serialize_keras_object(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cells"] = [keras.saving.deserialize_keras_object(c) for c in config["cells"]]
        return cls(**config)


# --------------------------------------------------------------------------- model


@keras.saving.register_keras_serializable(package="events_rnn")
class EventSequenceRnnModel(keras.Model):
    """Magenta's events-RNN graph: inputs [B, T, input_size] -> logits [B, T, num_classes].

    Args:
      input_size, num_classes: the encoding's widths (the model package's ``encodings``).
      rnn_layer_sizes: LSTM widths, bottom first.
      dropout_keep_prob: keep probability of each layer's output in training.
      attn_length: attention window (0 = none).
      attention_layout: ``first_layer`` or ``whole_stack`` (ignored without attention).
      forget_bias: TF1's run-time forget-gate bias (1.0).

    Layers: ``rnn`` (a :class:`TF1MultiRNNCell`, or an ``AttentionCellWrapper`` around one in the
    ``whole_stack`` layout) and ``fully_connected``. Built at construction, so every variable
    exists for porting.

    Call: ``model(inputs, training=False, initial_state=None, return_state=False,
    dropout_seed=None)``. In training, dropout masks come from ``dropout_seed`` (a [2] int
    tensor, stateless and replica-safe) or, without it, from TF's stateful RNG. Padding steps
    beyond a sequence's length are computed like any other (the RNN is causal, so they never
    change earlier logits); losses mask them.
    """

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        rnn_layer_sizes: Sequence[int] = (128, 128),
        dropout_keep_prob: float = 1.0,
        attn_length: int = 0,
        attention_layout: str = "first_layer",
        forget_bias: float = 1.0,
        **kwargs,
    ):
        kwargs.setdefault("name", "events_rnn")
        super().__init__(**kwargs)
        if attention_layout not in ATTENTION_LAYOUTS:
            raise ValueError(f"attention_layout must be one of {ATTENTION_LAYOUTS}, got {attention_layout!r}")
        self.input_size = int(input_size)
        self.num_classes = int(num_classes)
        self.rnn_layer_sizes = tuple(int(s) for s in rnn_layer_sizes)
        self.dropout_keep_prob = float(dropout_keep_prob)
        self.attn_length = int(attn_length)
        self.attention_layout = attention_layout
        self.forget_bias = float(forget_bias)
        cells: List[keras.layers.Layer] = []
        for i, units in enumerate(self.rnn_layer_sizes):
            if i == 0 and self.attn_length and attention_layout == "first_layer":
                cells.append(
                    AttentionCellWrapper(
                        TF1LSTMCell(units, forget_bias, name="basic_lstm_cell"), self.attn_length, name="cell_0"
                    )
                )
            else:
                cells.append(TF1LSTMCell(units, forget_bias, name=f"cell_{i}"))
        self.multi_cell = TF1MultiRNNCell(cells, name="multi_rnn_cell")
        if self.attn_length and attention_layout == "whole_stack":
            self.rnn = AttentionCellWrapper(self.multi_cell, self.attn_length, name="attention_cell_wrapper")
        else:
            self.rnn = self.multi_cell
        self.fully_connected = keras.layers.Dense(self.num_classes, name=OUTPUT_SCOPE, dtype="float32")
        self.build((None, None, self.input_size))

    # ------------------------------------------------------------------ structure

    @property
    def layout(self) -> str:
        """``none``, ``first_layer`` or ``whole_stack``."""
        return self.attention_layout if self.attn_length else "none"

    @property
    def state_size(self) -> Tuple[int, ...]:
        """Widths of the flat state tensors."""
        return tuple(self.rnn.state_size)

    def build(self, input_shape):
        if not self.rnn.built:
            self.rnn.build((None, self.input_size))
        if not self.fully_connected.built:
            self.fully_connected.build((None, self.rnn.output_size))
        self.built = True

    def initial_state(self, batch_size: int) -> State:
        """Zero state: a flat tuple of [batch_size, n] tensors."""
        return tuple(tf.zeros([batch_size, n], self.compute_dtype) for n in self.state_size)

    def _dropout_masks(self, shape_tb, dropout_seed):
        keep = self.dropout_keep_prob
        masks = []
        for i, width in enumerate(self.multi_cell.dropout_sizes):
            shape = tf.concat([shape_tb, [width]], axis=0)
            if dropout_seed is not None:
                seed = tf.random.experimental.stateless_fold_in(tf.cast(dropout_seed, tf.int64), i)
                u = tf.random.stateless_uniform(shape, seed=seed)
            else:
                u = tf.random.uniform(shape)
            masks.append(tf.cast(tf.floor(keep + u) / keep, self.compute_dtype))
        return masks

    def call(self, inputs, training=False, initial_state=None, return_state=False, dropout_seed=None):
        x = tf.convert_to_tensor(inputs)
        x = tf.cast(x, self.compute_dtype)
        batch, steps = tf.shape(x)[0], tf.shape(x)[1]
        state = (
            tuple(initial_state)
            if initial_state is not None
            else tuple(tf.zeros(tf.stack([batch, n]), self.compute_dtype) for n in self.state_size)
        )
        x_tm = tf.transpose(x, [1, 0, 2])
        use_dropout = bool(training) and self.dropout_keep_prob < 1.0
        masks = self._dropout_masks(tf.stack([steps, batch]), dropout_seed) if use_dropout else None
        outputs = tf.TensorArray(self.compute_dtype, size=steps, element_shape=[None, self.rnn.output_size])

        def body(t, out_ta, st):
            step_masks = [m[t] for m in masks] if masks is not None else None
            out, new = self.rnn(x_tm[t], st, dropout_masks=step_masks)
            return t + 1, out_ta.write(t, out), tuple(new)

        _, outputs, final = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), outputs, state), maximum_iterations=steps
        )
        seq = tf.transpose(outputs.stack(), [1, 0, 2])
        logits = self.fully_connected(seq)
        return (logits, final) if return_state else logits

    def step(self, inputs, state: Sequence[tf.Tensor]) -> Tuple[tf.Tensor, State]:
        """One generation step without dropout: (inputs [B, input_size], state) -> (logits [B, C], new state)."""
        x = tf.cast(tf.convert_to_tensor(inputs), self.compute_dtype)
        out, new = self.rnn(x, tuple(state))
        return self.fully_connected(out), tuple(new)

    # ------------------------------------------------------------------ TF1 names

    def _cells_with_scopes(self) -> List[Tuple[str, keras.layers.Layer]]:
        """(TF1 scope, layer) of every LSTM cell and attention wrapper, outermost wrapper first."""
        out = []
        if self.layout == "whole_stack":
            wrapper_scope = f"{RNN_SCOPE}/attention_cell_wrapper"
            out.append((wrapper_scope, self.rnn))
            multi_scope = f"{wrapper_scope}/multi_rnn_cell"
        else:
            multi_scope = f"{RNN_SCOPE}/multi_rnn_cell"
        for i, cell in enumerate(self.multi_cell.cells):
            scope = f"{multi_scope}/cell_{i}"
            if isinstance(cell, AttentionCellWrapper):
                out.append((f"{scope}/attention_cell_wrapper", cell))
                out.append((f"{scope}/attention_cell_wrapper/basic_lstm_cell", cell.cell))
            else:
                out.append((f"{scope}/basic_lstm_cell", cell))
        return out

    def tf1_variables(self, naming: str = "kernel") -> Dict[str, keras.Variable]:
        """Every model variable keyed by its TF1 checkpoint name.

        ``naming``: ``kernel`` (TF >= 1.2: ``.../kernel``, ``.../bias``) or ``weights`` (TF 1.0 / 1.1:
        ``.../weights``, ``.../biases``) for the RNN cells' linear maps; ``attn_w``, ``attn_v`` and
        ``fully_connected/weights``, ``biases`` are the same in both.
        """
        if naming not in NAMINGS:
            raise ValueError(f"naming must be one of {sorted(NAMINGS)}, got {naming!r}")
        w, b = NAMINGS[naming]
        out: Dict[str, keras.Variable] = {}
        for scope, layer in self._cells_with_scopes():
            if isinstance(layer, TF1LSTMCell):
                out[f"{scope}/{w}"] = layer.kernel
                out[f"{scope}/{b}"] = layer.bias
            else:
                out[f"{scope}/{w}"] = layer.input_projection.kernel
                out[f"{scope}/{b}"] = layer.input_projection.bias
                out[f"{scope}/attention/attn_w"] = layer.attention.attn_w
                out[f"{scope}/attention/attn_v"] = layer.attention.attn_v
                out[f"{scope}/attention/{w}"] = layer.attention.kernel
                out[f"{scope}/attention/{b}"] = layer.attention.bias
                out[f"{scope}/attn_output_projection/{w}"] = layer.output_projection.kernel
                out[f"{scope}/attn_output_projection/{b}"] = layer.output_projection.bias
        out[f"{OUTPUT_SCOPE}/weights"] = self.fully_connected.kernel
        out[f"{OUTPUT_SCOPE}/biases"] = self.fully_connected.bias
        return out

    # ------------------------------------------------------------------ freezing

    def layer_groups(self) -> Dict[str, List[keras.layers.Layer]]:
        """Freezable groups: ``cell_K`` (K-th layer; in the ``first_layer`` layout cell_0 includes its
        attention wrapper), ``attention`` (the wrapper's own sublayers), ``fully_connected``."""
        groups: Dict[str, List[keras.layers.Layer]] = {
            f"cell_{i}": [cell] for i, cell in enumerate(self.multi_cell.cells)
        }
        wrappers = [layer for _, layer in self._cells_with_scopes() if isinstance(layer, AttentionCellWrapper)]
        if wrappers:
            groups["attention"] = [sub for wrapper in wrappers for sub in wrapper.own_layers()]
        groups[OUTPUT_SCOPE] = [self.fully_connected]
        return groups

    def freeze(self, names: Sequence[str]) -> None:
        """Make the named groups (see :meth:`layer_groups`) non-trainable; unknown names raise ValueError."""
        groups = self.layer_groups()
        unknown = [n for n in names if n not in groups]
        if unknown:
            raise ValueError(f"cannot freeze {unknown}: this model's layers are {sorted(groups)}")
        for name in names:
            for layer in groups[name]:
                layer.trainable = False

    def get_config(self):
        return {
            **super().get_config(),
            "input_size": self.input_size,
            "num_classes": self.num_classes,
            "rnn_layer_sizes": list(self.rnn_layer_sizes),
            "dropout_keep_prob": self.dropout_keep_prob,
            "attn_length": self.attn_length,
            "attention_layout": self.attention_layout,
            "forget_bias": self.forget_bias,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("trainable", "dtype"):
            config.pop(key, None)
        return cls(**config)


def build_model(
    config, dropout_keep_prob: Optional[float] = None, name: str = "events_rnn", model_class=None
) -> EventSequenceRnnModel:
    """The model of any events-RNN config (``config.input_size``, ``config.num_classes`` and
    ``config.hparams`` with ``rnn_layer_sizes``, ``dropout_keep_prob``, ``attn_length``,
    ``attention_layout``); dropout from its hparams unless given. ``model_class``: a subclass of
    :class:`EventSequenceRnnModel` to build (default: that class)."""
    hp = config.hparams
    keep = hp.dropout_keep_prob if dropout_keep_prob is None else dropout_keep_prob
    cls = model_class or EventSequenceRnnModel
    return cls(
        config.input_size,
        config.num_classes,
        hp.rnn_layer_sizes,
        keep,
        hp.attn_length,
        getattr(hp, "attention_layout", "first_layer"),
        name=name,
    )
