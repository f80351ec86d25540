"""An independent NumPy (float64) model of Magenta's TF1 events-RNN graph (every Magenta RNN model:
Melody, Polyphony, Drums, ...), keyed by TF1 variable names.

Written from TF1's source (``rnn_cell_impl.BasicLSTMCell`` / ``MultiRNNCell``,
``contrib.rnn.AttentionCellWrapper`` with ``state_is_tuple=True``, ``contrib.layers.linear``) and
Magenta's ``events_rnn_graph.make_rnn_cell``; it imports nothing from ``events_rnn`` or the model packages so that
parity tests compare two separate implementations. Also makes TF1-named random checkpoints and
``.mag`` files the way Magenta's saver would lay them out.
"""

from __future__ import annotations

import os
import tempfile
from typing import Dict, List, Sequence, Tuple

import numpy as np

Weights = Dict[str, np.ndarray]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# --------------------------------------------------------------------------- names and shapes


def tf1_shapes(
    input_size: int, num_classes: int, sizes: Sequence[int], layout: str, naming: str = "kernel"
) -> Dict[str, Tuple[int, ...]]:
    """TF1 variable name -> shape of Magenta's graph (layout: none / first_layer / whole_stack)."""
    w, b = ("kernel", "bias") if naming == "kernel" else ("weights", "biases")
    shapes: Dict[str, Tuple[int, ...]] = {}

    def attention(scope, in_dim, cell_out, query_dim):
        a = cell_out
        shapes[f"{scope}/{w}"] = (in_dim + a, in_dim)
        shapes[f"{scope}/{b}"] = (in_dim,)
        shapes[f"{scope}/attention/attn_w"] = (1, 1, a, a)
        shapes[f"{scope}/attention/attn_v"] = (a,)
        shapes[f"{scope}/attention/{w}"] = (query_dim, a)
        shapes[f"{scope}/attention/{b}"] = (a,)
        shapes[f"{scope}/attn_output_projection/{w}"] = (cell_out + a, a)
        shapes[f"{scope}/attn_output_projection/{b}"] = (a,)

    multi = "rnn/attention_cell_wrapper/multi_rnn_cell" if layout == "whole_stack" else "rnn/multi_rnn_cell"
    width = input_size
    for i, n in enumerate(sizes):
        scope = f"{multi}/cell_{i}"
        if i == 0 and layout == "first_layer":
            scope += "/attention_cell_wrapper"
            attention(scope, width, n, 2 * n)
        shapes[f"{scope}/basic_lstm_cell/{w}"] = (width + n, 4 * n)
        shapes[f"{scope}/basic_lstm_cell/{b}"] = (4 * n,)
        width = n
    if layout == "whole_stack":
        attention("rnn/attention_cell_wrapper", input_size, sizes[-1], 2 * sum(sizes))
    shapes["fully_connected/weights"] = (sizes[-1], num_classes)
    shapes["fully_connected/biases"] = (num_classes,)
    return shapes


def random_weights(shapes: Dict[str, Tuple[int, ...]], seed: int = 0, bias_scale: float = 0.3) -> Weights:
    """Random float32 weights for ``shapes``: matrices N(0, 1/fan_in) (the scale of trained
    weights; larger ones make a 128-unit attention net chaotic, so float32 rounding alone would
    decide which step it attends to), vectors N(0, bias_scale^2), so no term is trivially zero."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, s in shapes.items():
        std = bias_scale if len(s) == 1 else 1.0 / np.sqrt(np.prod(s[:-1]))
        out[k] = (std * rng.standard_normal(s)).astype(np.float32)
    return out


def write_mag(path: str, weights: Weights, generator_id: str, extra: Weights = None, description: str = "") -> str:
    """Write a GeneratorBundle with ``weights`` (+ ``extra``) as a single-file V1 checkpoint, built here
    directly from the proto and TF1's Saver (not with melody_rnn_ext.bundle)."""
    import tensorflow as tf
    from note_seq.protobuf import generator_pb2

    variables = dict(weights)
    variables.update(extra or {})
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "model.ckpt")
        graph = tf.Graph()
        with graph.as_default():
            tf_vars = {k: tf.compat.v1.Variable(v, name=k) for k, v in variables.items()}
            saver = tf.compat.v1.train.Saver(tf_vars, sharded=False, write_version=tf.compat.v1.train.SaverDef.V1)
            with tf.compat.v1.Session(graph=graph) as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                saver.save(sess, ckpt, write_meta_graph=False, write_state=False)
        with open(ckpt, "rb") as f:
            data = f.read()
    bundle = generator_pb2.GeneratorBundle()
    bundle.generator_details.id = generator_id
    bundle.generator_details.description = description
    bundle.checkpoint_file.append(data)
    with open(path, "wb") as f:
        f.write(bundle.SerializeToString())
    return path


# --------------------------------------------------------------------------- equations


def _lin(args, kernel, bias):
    return np.concatenate(args, axis=1) @ kernel + bias


class _LSTM:
    def __init__(self, W, scope, w, b, forget_bias=1.0):
        self.k, self.b, self.fb = W[f"{scope}/basic_lstm_cell/{w}"], W[f"{scope}/basic_lstm_cell/{b}"], forget_bias
        self.units = self.b.shape[0] // 4

    def zero(self, batch):
        return [np.zeros((batch, self.units)), np.zeros((batch, self.units))]  # c, h

    def __call__(self, x, state):
        c, h = state
        z = _lin([x, h], self.k, self.b)
        i, j, f, o = np.split(z, 4, axis=1)
        c2 = c * sigmoid(f + self.fb) + sigmoid(i) * np.tanh(j)
        h2 = np.tanh(c2) * sigmoid(o)
        return h2, [c2, h2]


class _Multi:
    def __init__(self, cells, keep_masks=None):
        self.cells = cells

    def zero(self, batch):
        return [cell.zero(batch) for cell in self.cells]

    def __call__(self, x, state):
        new = []
        for cell, s in zip(self.cells, state):
            x, s2 = cell(x, s)
            new.append(s2)
        return x, new


def _flatten(state) -> List[np.ndarray]:
    if isinstance(state, np.ndarray):
        return [state]
    return [leaf for s in state for leaf in _flatten(s)]


class _Attention:
    def __init__(self, W, scope, w, b, cell, attn_length):
        self.W, self.scope, self.w, self.b, self.cell, self.L = W, scope, w, b, cell, attn_length
        self.A = W[f"{scope}/attention/attn_v"].shape[0]

    def zero(self, batch):
        return [self.cell.zero(batch), np.zeros((batch, self.A)), np.zeros((batch, self.A * self.L))]

    def __call__(self, x, state):
        W, s, w, b = self.W, self.scope, self.w, self.b
        cell_state, attns, attn_states = state
        hist = attn_states.reshape(-1, self.L, self.A)
        x = _lin([x, attns], W[f"{s}/{w}"], W[f"{s}/{b}"])
        out, new_cell_state = self.cell(x, cell_state)
        query = np.concatenate(_flatten(new_cell_state), axis=1)
        k = W[f"{s}/attention/attn_w"][0, 0]
        hidden_features = np.einsum("bla,av->blv", hist, k)
        y = _lin([query], W[f"{s}/attention/{w}"], W[f"{s}/attention/{b}"])
        scores = np.sum(W[f"{s}/attention/attn_v"] * np.tanh(hidden_features + y[:, None, :]), axis=2)
        a = softmax(scores, axis=1)
        new_attns = np.sum(a[:, :, None] * hist, axis=1)
        output = _lin([out, new_attns], W[f"{s}/attn_output_projection/{w}"], W[f"{s}/attn_output_projection/{b}"])
        new_hist = np.concatenate([hist[:, 1:], output[:, None]], axis=1).reshape(-1, self.L * self.A)
        return output, [new_cell_state, new_attns, new_hist]


def reference_logits(
    weights: Weights, inputs: np.ndarray, layout: str, attn_length: int = 0, naming: str = "kernel"
) -> Tuple[np.ndarray, List[np.ndarray]]:
    """Logits [B, T, C] (float64) of Magenta's generation graph (no dropout) and the flat final state."""
    W = {k: np.asarray(v, np.float64) for k, v in weights.items()}
    w, b = ("kernel", "bias") if naming == "kernel" else ("weights", "biases")
    multi = "rnn/attention_cell_wrapper/multi_rnn_cell" if layout == "whole_stack" else "rnn/multi_rnn_cell"
    cells = []
    i = 0
    while any(k.startswith(f"{multi}/cell_{i}/") for k in W):
        scope = f"{multi}/cell_{i}"
        if i == 0 and layout == "first_layer":
            scope += "/attention_cell_wrapper"
            cells.append(_Attention(W, scope, w, b, _LSTM(W, scope, w, b), attn_length))
        else:
            cells.append(_LSTM(W, scope, w, b))
        i += 1
    cell = _Multi(cells)
    if layout == "whole_stack":
        cell = _Attention(W, "rnn/attention_cell_wrapper", w, b, cell, attn_length)
    x = np.asarray(inputs, np.float64)
    state = cell.zero(x.shape[0])
    outs = []
    for t in range(x.shape[1]):
        out, state = cell(x[:, t], state)
        outs.append(out)
    seq = np.stack(outs, axis=1)
    logits = seq @ W["fully_connected/weights"] + W["fully_connected/biases"]
    return logits, _flatten(state)
