"""TF1's ``tf.contrib.rnn.AttentionCellWrapper`` as a Keras layer, with its exact equations and variables.

Shared by every events-RNN model (Magenta's ``events_rnn_graph.make_rnn_cell`` adds it when
``attn_length > 0``). Magenta's ``attention_rnn`` wraps an LSTM in ``AttentionCellWrapper(cell, attn_length,
state_is_tuple=True)``. With ``A = cell.output_size`` (attn_size = attn_vec_size = A), ``L =
attn_length`` and the wrapper state ``(cell_state, attns [B, A], attn_states [B, L*A])``, one step is::

    x      = [inputs, attns] @ K_in + b_in                  # back to the input width
    out, s = cell(x, cell_state)
    q      = concat(flatten(s))                             # e.g. [c, h], or [c0, h0, c1, h1]
    H      = reshape(attn_states, [B, L, A])                # the last L outputs, oldest first
    score  = sum_v(attn_v * tanh(H @ attn_w + q @ K_q + b_q))   # [B, L]
    attns' = sum_l(softmax_l(score) * H)                    # [B, A]
    output = [out, attns'] @ K_out + b_out                  # [B, A]
    attn_states' = concat(H[:, 1:], output)                 # window slides by one

``attn_w`` is TF1's ``[1, 1, A, A]`` 1x1-convolution kernel (applied here as a matrix product,
which is the same sum). The TF1 variables, relative to the wrapper's scope
``.../attention_cell_wrapper``: ``kernel``/``bias`` (input projection, [in + A, in]),
``attention/attn_w``, ``attention/attn_v``, ``attention/kernel``/``bias`` (query projection,
[sum(state sizes), A]), ``attn_output_projection/kernel``/``bias`` ([out + A, A]); the wrapped
cell lives below the same scope. Before TF 1.2 the projections' leaves were ``weights``/``biases``.

States are flat tuples of 2-D tensors (the order TF1's ``nest.flatten`` gives): the wrapped
cell's flat state, then ``attns``, then ``attn_states``.

Wrapped cells follow a small protocol: ``state_size`` (tuple of ints, flat), ``output_size``,
``build(input_shape)`` and ``call(inputs, states, dropout_masks=None) -> (output, new_states)``.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple

import keras
import tensorflow as tf

State = Tuple[tf.Tensor, ...]


# --------------------------------------------------------------------------- pure equations


def tf1_linear(args: Sequence[tf.Tensor], kernel, bias) -> tf.Tensor:
    """TF1 ``_Linear``: ``concat(args, 1) @ kernel + bias``. args: [B, n_i]; kernel [sum n_i, out]."""
    x = args[0] if len(args) == 1 else tf.concat(list(args), axis=1)
    return tf.matmul(x, kernel) + bias


def attention_read(
    query: tf.Tensor, attn_states: tf.Tensor, attn_w, attn_v, query_kernel, query_bias
) -> Tuple[tf.Tensor, tf.Tensor]:
    """TF1 ``AttentionCellWrapper._attention``.

    Args:
      query: [B, Q], the wrapped cell's new state, flattened and concatenated.
      attn_states: [B, L, A], the last L wrapper outputs.
      attn_w: [1, 1, A, V]; attn_v: [V]; query_kernel: [Q, V]; query_bias: [V].
    Returns:
      (new_attns [B, A], attn_states without its oldest entry [B, L - 1, A]).
    """
    hidden_features = tf.einsum("bla,av->blv", attn_states, attn_w[0, 0])
    y = tf1_linear([query], query_kernel, query_bias)
    scores = tf.reduce_sum(attn_v * tf.tanh(hidden_features + y[:, None, :]), axis=2)
    weights = tf.nn.softmax(scores, axis=1)
    new_attns = tf.reduce_sum(weights[:, :, None] * attn_states, axis=1)
    return new_attns, attn_states[:, 1:, :]


def attention_wrapper_step(
    inputs: tf.Tensor,
    state: State,
    cell_fn: Callable[[tf.Tensor, State], Tuple[tf.Tensor, State]],
    num_cell_states: int,
    attn_length: int,
    attn_size: int,
    input_kernel,
    input_bias,
    attn_w,
    attn_v,
    query_kernel,
    query_bias,
    output_kernel,
    output_bias,
) -> Tuple[tf.Tensor, State]:
    """One step of TF1 ``AttentionCellWrapper.call`` (state_is_tuple=True) on a flat state.

    Args:
      inputs: [B, in].
      state: the wrapped cell's ``num_cell_states`` tensors, then attns [B, A] and attn_states [B, L*A].
      cell_fn: ``(x [B, in], cell_state) -> (cell_output [B, out], new_cell_state)``.
    Returns:
      (output [B, A], new flat state).
    """
    cell_state = tuple(state[:num_cell_states])
    attns, attn_states = state[num_cell_states], state[num_cell_states + 1]
    attn_states = tf.reshape(attn_states, [-1, attn_length, attn_size])
    x = tf1_linear([inputs, attns], input_kernel, input_bias)
    cell_output, new_cell_state = cell_fn(x, cell_state)
    query = tf.concat(list(new_cell_state), axis=1)
    new_attns, new_attn_states = attention_read(query, attn_states, attn_w, attn_v, query_kernel, query_bias)
    output = tf1_linear([cell_output, new_attns], output_kernel, output_bias)
    new_attn_states = tf.concat([new_attn_states, output[:, None, :]], axis=1)
    new_attn_states = tf.reshape(new_attn_states, [-1, attn_length * attn_size])
    return output, tuple(new_cell_state) + (new_attns, new_attn_states)


# --------------------------------------------------------------------------- layers


@keras.saving.register_keras_serializable(package="events_rnn")
class TF1Linear(keras.layers.Layer):
    """TF1 ``_Linear``: one ``kernel`` [sum of input widths, units] and ``bias`` [units] over concatenated inputs.

    Called on a list of 2-D tensors [B, n_i]; returns [B, units]. Kernel initialiser: Glorot
    uniform (TF1 ``get_variable``'s default); bias: zeros.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        in_dim = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(in_dim, self.units), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, args):
        if not isinstance(args, (list, tuple)):
            args = [args]
        return tf1_linear(args, self.kernel, self.bias)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="events_rnn")
class AttentionReader(keras.layers.Layer):
    """The ``attention`` scope of the wrapper: ``attn_w`` [1, 1, A, V], ``attn_v`` [V], and the query
    projection ``kernel`` [Q, V] / ``bias`` [V]. Called on (query [B, Q], attn_states [B, L, A]);
    returns (new_attns [B, A], attn_states[:, 1:])."""

    def __init__(self, attn_size: int, attn_vec_size: int, **kwargs):
        kwargs.setdefault("name", "attention")
        super().__init__(**kwargs)
        self.attn_size = int(attn_size)
        self.attn_vec_size = int(attn_vec_size)

    def build(self, query_shape):
        q = int(query_shape[-1])
        a, v = self.attn_size, self.attn_vec_size
        self.attn_w = self.add_weight(name="attn_w", shape=(1, 1, a, v), initializer="glorot_uniform")
        self.attn_v = self.add_weight(name="attn_v", shape=(v,), initializer="glorot_uniform")
        self.kernel = self.add_weight(name="kernel", shape=(q, v), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(v,), initializer="zeros")

    def call(self, query, attn_states):
        return attention_read(query, attn_states, self.attn_w, self.attn_v, self.kernel, self.bias)

    def get_config(self):
        return {**super().get_config(), "attn_size": self.attn_size, "attn_vec_size": self.attn_vec_size}


@keras.saving.register_keras_serializable(package="events_rnn")
class AttentionCellWrapper(keras.layers.Layer):
    """``tf.contrib.rnn.AttentionCellWrapper(cell, attn_length, state_is_tuple=True)`` as a Keras layer.

    Args:
      cell: the wrapped cell (a :class:`events_rnn.model.TF1LSTMCell` or
        :class:`events_rnn.model.TF1MultiRNNCell`, or any layer with the cell protocol).
      attn_length: the attention window L in steps (Magenta: 40).
      attn_size: width A of the attention vectors and of the output (default: ``cell.output_size``).
      attn_vec_size: width V of the scoring layer (default: ``attn_size``).

    Sublayers: ``input_projection`` (TF1: the wrapper scope's own ``kernel``/``bias``),
    the wrapped ``cell``, ``attention`` (:class:`AttentionReader`) and ``attn_output_projection``.
    Call: ``(inputs [B, in], state) -> (output [B, A], new_state)``; ``dropout_masks`` is passed
    through to the wrapped cell.
    """

    def __init__(
        self,
        cell: keras.layers.Layer,
        attn_length: int,
        attn_size: Optional[int] = None,
        attn_vec_size: Optional[int] = None,
        **kwargs,
    ):
        kwargs.setdefault("name", "attention_cell_wrapper")
        super().__init__(**kwargs)
        if attn_length <= 0:
            raise ValueError(f"attn_length must be positive, got {attn_length}")
        self.cell = cell
        self.attn_length = int(attn_length)
        self.attn_size = int(attn_size if attn_size is not None else cell.output_size)
        self.attn_vec_size = int(attn_vec_size if attn_vec_size is not None else self.attn_size)
        self.attention = AttentionReader(self.attn_size, self.attn_vec_size, name="attention")
        self.output_projection = TF1Linear(self.attn_size, name="attn_output_projection")
        self.input_projection = None  # its width is the input width, known at build

    @property
    def state_size(self) -> Tuple[int, ...]:
        """Flat state widths: the cell's, then attns (A) and attn_states (L*A)."""
        return tuple(self.cell.state_size) + (self.attn_size, self.attn_size * self.attn_length)

    @property
    def output_size(self) -> int:
        return self.attn_size

    def build(self, input_shape):
        in_dim = int(input_shape[-1])
        if self.input_projection is None:
            self.input_projection = TF1Linear(in_dim, name="input_projection")
        for layer, shape in (
            (self.input_projection, (None, in_dim + self.attn_size)),
            (self.cell, (None, in_dim)),
            (self.attention, (None, sum(self.cell.state_size))),
            (self.output_projection, (None, self.cell.output_size + self.attn_size)),
        ):
            if not layer.built:
                layer.build(shape)

    def call(self, inputs, states, dropout_masks=None):
        states = tuple(states)

        def cell_fn(x, cell_state):
            return self.cell(x, cell_state, dropout_masks=dropout_masks)

        return attention_wrapper_step(
            inputs,
            states,
            cell_fn,
            len(self.cell.state_size),
            self.attn_length,
            self.attn_size,
            self.input_projection.kernel,
            self.input_projection.bias,
            self.attention.attn_w,
            self.attention.attn_v,
            self.attention.kernel,
            self.attention.bias,
            self.output_projection.kernel,
            self.output_projection.bias,
        )

    def own_layers(self) -> Tuple[keras.layers.Layer, ...]:
        """The wrapper's own sublayers (not the wrapped cell): input projection, attention, output projection."""
        return (self.input_projection, self.attention, self.output_projection)

    def get_config(self):
        return {
            **super().get_config(),
            "cell": keras.saving.serialize_keras_object(self.cell),
            "attn_length": self.attn_length,
            "attn_size": self.attn_size,
            "attn_vec_size": self.attn_vec_size,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)
