"""A float64 NumPy transcription of tensor2tensor's ``transformer`` forward pass, read by variable name.

Independent of the Keras model: it takes the ``{t2t name: array}`` dict of a checkpoint and
follows t2t's computations step by step (symbol modality, shift right, timing signal,
``multihead_attention`` with ``dot_product_self_attention_relative_v2`` and its masked skew,
``layer_norm``, ``dense_relu_dense``, the encoder's padding bias and target-space embedding).
Used by the parity tests; also :func:`relative_logits_by_definition`, the paper's definition
evaluated pair by pair, to check the skew itself.
"""

import math

import numpy as np

NEG = -1e9


def table(variables, scope):
    """A symbol-modality table, its ``weights_i`` shards concatenated (float64)."""
    base = scope + "/weights_"
    shards = sorted((int(n[len(base) :]), n) for n in variables if n.startswith(base) and n[len(base) :].isdigit())
    return np.concatenate([np.asarray(variables[n], np.float64) for _, n in shards], axis=0)


def layer_norm(x, scale, bias, eps=1e-6):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * scale + bias


def timing_signal(length, channels):
    n = channels // 2
    inc = math.log(1.0e4) / (n - 1)
    inv = np.exp(np.arange(n) * -inc)
    t = np.arange(length)[:, None] * inv[None]
    sig = np.concatenate([np.sin(t), np.cos(t)], axis=1)
    if channels % 2:
        sig = np.pad(sig, [[0, 0], [0, 1]])
    return sig[None]


def split_heads(x, h):
    b, l, c = x.shape
    return x.reshape(b, l, h, c // h).transpose(0, 2, 1, 3)


def combine_heads(x):
    b, h, l, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, l, h * d)


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def embeddings_left(emb, length):
    """t2t's get_relative_embeddings_left: left zero-pad to ``length`` rows or keep the last ``length``."""
    m = emb.shape[-2]
    pad = max(length - m, 0)
    start = max(m - length, 0)
    widths = [(0, 0)] * (emb.ndim - 2) + [(pad, 0), (0, 0)]
    padded = np.pad(emb, widths)
    return padded[..., start : start + length, :]


def skew(x):
    """t2t's _relative_position_to_absolute_position_masked."""
    b, h, l, _ = x.shape
    x = np.pad(x, [(0, 0), (0, 0), (0, 0), (1, 0)])
    return x.reshape(b, h, l + 1, l)[:, :, 1:, :]


def unskew(x):
    """t2t's _absolute_position_to_relative_position_masked."""
    b, h, l, _ = x.shape
    x = np.pad(x, [(0, 0), (0, 0), (1, 0), (0, 0)])
    return x.reshape(b, h, l, l + 1)[:, :, :, 1:]


def rel_keys(q, used):
    return np.einsum("bhld,md->bhlm", q, used) if used.ndim == 2 else np.einsum("bhld,hmd->bhlm", q, used)


def rel_values(w, used):
    return np.einsum("bhlm,md->bhld", w, used) if used.ndim == 2 else np.einsum("bhlm,hmd->bhld", w, used)


def relative_attention_v2(q, k, v, bias, key_emb, value_emb=None):
    """t2t's dot_product_self_attention_relative_v2 (no dropout): q, k, v [B, H, L, d]."""
    length = q.shape[2]
    logits = q @ k.transpose(0, 1, 3, 2)
    logits = logits + skew(rel_keys(q, embeddings_left(key_emb, length)))
    if bias is not None:
        logits = logits + bias
    w = softmax(logits)
    out = w @ v
    if value_emb is not None:
        out = out + rel_values(unskew(w), embeddings_left(value_emb, length))
    return out


def relative_logits_by_definition(q, key_emb):
    """``rel[b, h, i, m] = q_i . E[M-1-(i-m)]`` for ``0 <= i-m < M``, else 0: the paper's definition, pair by pair."""
    b, h, length, d = q.shape
    m_max = key_emb.shape[-2]
    out = np.zeros((b, h, length, length))
    for i in range(length):
        for m in range(i + 1):
            dist = i - m
            if dist < m_max:
                e = key_emb[m_max - 1 - dist] if key_emb.ndim == 2 else key_emb[:, m_max - 1 - dist]
                out[:, :, i, m] = (
                    np.einsum("bhd,d->bh", q[:, :, i], e) if e.ndim == 1 else np.einsum("bhd,hd->bh", q[:, :, i], e)
                )
    return out


def multihead_attention(variables, scope, x, memory, bias, cfg, relative):
    g = lambda n: np.asarray(variables[f"{scope}/multihead_attention/{n}"], np.float64)
    heads = cfg.num_heads
    mem = x if memory is None else memory
    q = split_heads(x @ g("q/kernel"), heads)
    k = split_heads(mem @ g("k/kernel"), heads)
    v = split_heads(mem @ g("v/kernel"), heads)
    q = q * (q.shape[-1] ** -0.5)
    if relative:
        rel = "dot_product_self_attention_relative_v2"
        key_emb = g(f"{rel}/key_relative_embeddings")
        value_name = f"{scope}/multihead_attention/{rel}/value_relative_embeddings"
        value_emb = np.asarray(variables[value_name], np.float64) if value_name in variables else None
        out = relative_attention_v2(q, k, v, bias, key_emb, value_emb)
    else:
        out = softmax(q @ k.transpose(0, 1, 3, 2) + (0 if bias is None else bias)) @ v
    return combine_heads(out) @ g("output_transform/kernel")


def _norm(variables, scope, x, eps):
    g = lambda n: np.asarray(variables[f"{scope}/layer_prepostprocess/layer_norm/{n}"], np.float64)
    return layer_norm(x, g("layer_norm_scale"), g("layer_norm_bias"), eps)


def _attention_sublayer(variables, name, x, memory, bias, cfg, relative):
    """One attention sublayer's output (before the residual sum): t2t's pre-norm 'n', then attention."""
    return multihead_attention(
        variables, name, _norm(variables, name, x, cfg.norm_epsilon), memory, bias, cfg, relative
    )


def stack(variables, prefix, x, num_layers, cfg, self_bias, relative, memory=None, memory_bias=None):
    """t2t's transformer_encoder / transformer_decoder with pre-norm 'n' and post 'da' (no dropout)."""
    eps = cfg.norm_epsilon
    for i in range(num_layers):
        lp = f"{prefix}/layer_{i}"
        x = x + _attention_sublayer(variables, f"{lp}/self_attention", x, None, self_bias, cfg, relative)
        if memory is not None:
            x = x + _attention_sublayer(variables, f"{lp}/encdec_attention", x, memory, memory_bias, cfg, False)
        g = lambda n: np.asarray(variables[f"{lp}/ffn/{n}"], np.float64)
        h = np.maximum(_norm(variables, f"{lp}/ffn", x, eps) @ g("conv1/kernel") + g("conv1/bias"), 0.0)
        x = x + h @ g("conv2/kernel") + g("conv2/bias")
    return _norm(variables, prefix, x, eps)


def forward(variables, cfg, targets, inputs=None):
    """Logits ``[B, L, V]`` (float64) of t2t's transformer on ``targets`` (and ``inputs``)."""
    h = cfg.hidden_size
    vocab = cfg.vocab_size
    tscope = f"transformer/symbol_modality_{vocab}_{h}"
    shared = cfg.shared_embedding_and_softmax
    emb_t = table(variables, f"{tscope}/{'shared' if shared else 'target_emb'}")
    soft = emb_t if shared else table(variables, f"{tscope}/softmax")
    memory = memory_bias = None
    if inputs is not None:
        iscope = f"transformer/symbol_modality_{cfg.input_vocab_size}_{h}"
        emb_i = table(variables, f"{iscope}/{'shared' if shared else 'input_emb'}")
        x = emb_i[inputs] * h**0.5 * (inputs != 0)[..., None]
        padding = (np.abs(x).sum(-1) == 0).astype(np.float64)  # t2t's embedding_to_padding
        memory_bias = (padding * NEG)[:, None, None, :]
        tse = "transformer/body/target_space_embedding/kernel"
        if tse in variables:
            x = x + np.asarray(variables[tse], np.float64)[cfg.target_space_id][None, None]
        if cfg.pos == "timing":
            x = x + timing_signal(x.shape[1], h)
        memory = stack(
            variables,
            "transformer/body/encoder",
            x,
            cfg.encoder_layers,
            cfg,
            memory_bias,
            cfg.self_attention_type == "dot_product_relative_v2",
        )
    y = emb_t[targets] * h**0.5 * (targets != 0)[..., None]
    y = np.pad(y, [(0, 0), (1, 0), (0, 0)])[:, :-1]  # shift_right_3d
    if cfg.pos == "timing":
        y = y + timing_signal(y.shape[1], h)
    length = y.shape[1]
    causal = (NEG * (1.0 - np.tril(np.ones((length, length)))))[None, None]
    out = stack(
        variables,
        "transformer/body/decoder",
        y,
        cfg.num_layers,
        cfg,
        causal,
        cfg.self_attention_type == "dot_product_relative_v2",
        memory,
        memory_bias,
    )
    return out @ soft.T
