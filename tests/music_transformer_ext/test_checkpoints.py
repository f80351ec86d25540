"""tensor2tensor checkpoints: fixtures with t2t's names, strict porting, numeric parity with a NumPy
transcription of t2t's forward pass, and the way back (save_as_t2t)."""

import dataclasses
import os

import numpy as np
import pytest

from music_transformer_ext import checkpoints as K
from music_transformer_ext import config as C
from music_transformer_ext import convert_t2t
from music_transformer_ext.model import MusicTransformer
from tests.music_transformer_ext import t2t_reference as ref
from tfmusic.tf1_checkpoints import CheckpointReadError, PortingError, read_checkpoint

BASE = C.MusicTransformerConfig(
    vocab_size=310,
    num_layers=2,
    hidden_size=32,
    filter_size=40,
    num_heads=4,
    attention_key_channels=48,
    attention_value_channels=24,
    max_length=64,
)
PARITY_CONFIGS = {
    # per-head tables, sequence longer than max_relative_position, separate softmax, sharded tables
    "relative_per_head": dataclasses.replace(
        BASE, self_attention_type="dot_product_relative_v2", max_relative_position=8, shared_embedding_and_softmax=False
    ),
    # one table for all heads, relative values, sequence shorter than max_relative_position
    "relative_shared_values": dataclasses.replace(
        BASE,
        self_attention_type="dot_product_relative_v2",
        max_relative_position=32,
        heads_share_relative_embedding=True,
        add_relative_to_values=True,
    ),
    # the released melody-conditioned layout (dot-product, shared tables, target-space embedding)
    "conditioned": dataclasses.replace(BASE, encoder_layers=2, target_space_id=3),
    # t2t applies the relative type to the encoder's self-attention too (with its masked skew)
    "conditioned_relative": dataclasses.replace(
        BASE,
        encoder_layers=1,
        self_attention_type="dot_product_relative_v2",
        max_relative_position=6,
        shared_embedding_and_softmax=False,
    ),
    "no_timing": dataclasses.replace(BASE, pos="none"),
}
STRUCTURE = (
    "vocab_size",
    "num_layers",
    "encoder_layers",
    "hidden_size",
    "filter_size",
    "key_channels",
    "value_channels",
    "self_attention_type",
    "max_relative_position",
    "heads_share_relative_embedding",
    "add_relative_to_values",
    "shared_embedding_and_softmax",
)


def _features(config, seed=0, length=20):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, config.vocab_size, (2, length)).astype(np.int32)
    targets[1, -4:] = 0  # PAD targets embed to zero, as in t2t
    if not config.conditioned:
        return targets, None
    inputs = rng.integers(1, config.input_vocab_size, (2, 7)).astype(np.int32)
    inputs[0, -2:] = 0
    return targets, inputs


@pytest.mark.parametrize("name", sorted(PARITY_CONFIGS))
def test_ported_keras_logits_equal_numpy_t2t(tmp_path, name):
    config = PARITY_CONFIGS[name]
    prefix = K.write_t2t_fixture(config, tmp_path, seed=11, num_shards=3 if "per_head" in name else 1)
    assert prefix == str(tmp_path / "model.ckpt-100000")
    assert os.path.exists(prefix + ".index") and os.path.exists(tmp_path / "checkpoint")
    model = K.port_t2t_checkpoint(tmp_path, config=config)  # the folder: its newest checkpoint
    variables = read_checkpoint(prefix)
    targets, inputs = _features(config)
    features = targets if inputs is None else {"targets": targets, "inputs": inputs}
    got = model(features).numpy()
    want = ref.forward(variables, config, targets, inputs)
    scale = np.abs(want).max()
    assert scale > 1.0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)
    # the architecture read from names and shapes alone is the one written
    inferred = convert_t2t.convert_config(variables)
    for field in STRUCTURE:
        assert getattr(inferred, field) == getattr(config, field), field
    if config.relative and not config.heads_share_relative_embedding:
        assert inferred.num_heads == config.num_heads


def test_fixture_has_t2t_names_slots_and_step(tmp_path):
    config = C.get("tiny")
    prefix = K.write_t2t_fixture(config, str(tmp_path / "model.ckpt-7"), seed=0, global_step=7)
    names = read_checkpoint(prefix)
    assert names["global_step"] == 7
    kernel = "transformer/body/decoder/layer_1/ffn/conv1/kernel"
    assert names[kernel].shape == (32, 64)
    assert names[kernel + "/Adafactor"].shape == (32,) and names[kernel + "/Adafactor_1"].shape == (64,)
    rel = (
        "transformer/body/decoder/layer_0/self_attention/multihead_attention/"
        "dot_product_self_attention_relative_v2/key_relative_embeddings"
    )
    assert names[rel].shape == (4, 16, 8)
    assert names[rel + "/Adafactor"].shape == (4, 16) and names[rel + "/Adafactor_1"].shape == (4, 8)
    scale = "transformer/body/decoder/layer_prepostprocess/layer_norm/layer_norm_scale"
    assert names[scale + "/Adafactor"].shape == (32,)
    model_names = {n for n in names if not n.endswith(("/Adafactor", "/Adafactor_1")) and n != "global_step"}
    assert model_names == set(K.t2t_variable_shapes(config))
    # the same values as the porter sees, and different seeds differ
    other = K.fixture_variables(config, seed=1)
    assert not np.allclose(other[kernel], names[kernel])


def test_porting_is_strict_and_names_what_does_not_fit(tmp_path):
    config = C.get("tiny")
    variables = K.fixture_variables(config, seed=2)
    model = MusicTransformer(config)
    report = convert_t2t.convert_weights(variables, model)  # slots and global_step are ignored by name
    assert report.ok and report.assigned == len(model.trainable_weights)
    mapped = K.keras_t2t_map(model)
    name = "transformer/body/decoder/layer_1/self_attention/multihead_attention/v/kernel"
    np.testing.assert_array_equal(mapped[name].numpy(), variables[name])

    missing = dict(variables)
    del missing[name]
    with pytest.raises(PortingError, match="missing.*layer_1/self_attention/multihead_attention/v/kernel"):
        convert_t2t.convert_weights(missing, MusicTransformer(config), source="fixture")

    extra = dict(variables, **{"transformer/body/decoder/layer_1/ffn/conv3/kernel": np.zeros((2, 2), np.float32)})
    with pytest.raises(PortingError, match="unused checkpoint variables: .*ffn/conv3/kernel"):
        convert_t2t.convert_weights(extra, MusicTransformer(config))

    wrong = dict(variables, **{name: np.zeros((32, 31), np.float32)})
    with pytest.raises(PortingError, match=r"v/kernel has shape \(32, 31\).*needs \(32, 32\)"):
        convert_t2t.convert_weights(wrong, MusicTransformer(config))

    # all at once, as lists: one missing, one misshapen, one unused (the error's report, not its text)
    [table] = [n for n in variables if n.endswith("/weights_0")]
    every = dict(missing, **{name.replace("layer_1", "layer_0"): np.zeros((32, 31), np.float32)})
    every["transformer/body/decoder/layer_1/ffn/conv3/kernel"] = np.zeros((2, 2), np.float32)
    del every[table]
    with pytest.raises(PortingError) as err:
        convert_t2t.convert_weights(every, MusicTransformer(config), source="fixture")
    report = err.value.report
    assert report.source == "fixture" and list(report.missing) == [table, name]
    assert [(m.name, m.found, m.needed) for m in report.misshapen] == [
        (name.replace("layer_1", "layer_0"), "shape (32, 31)", "(32, 32)")
    ]
    assert list(report.unused) == ["transformer/body/decoder/layer_1/ffn/conv3/kernel"]
    assert len(report.unassigned) == 3 and not report.ok

    path = K.write_t2t_fixture(config, tmp_path / "a", seed=2)
    with pytest.raises(PortingError, match="num_layers: checkpoint 2, config 3"):
        K.port_t2t_checkpoint(path, config=dataclasses.replace(config, num_layers=3))
    with pytest.raises(PortingError, match="self_attention_type"):
        K.port_t2t_checkpoint(
            path, config=dataclasses.replace(config, self_attention_type="dot_product", max_relative_position=0)
        )
    with pytest.raises(CheckpointReadError, match="no_such"):
        K.port_t2t_checkpoint(tmp_path / "no_such")
    with pytest.raises(PortingError, match="not a t2t transformer"):
        convert_t2t.convert_config({"global_step": np.int64(1), "foo/bar": np.zeros(3)})


def test_old_conv_shaped_ffn_kernels_are_accepted():
    config = C.get("tiny")
    variables = K.fixture_variables(config, seed=4, optimizer_slots=False)
    conv = "transformer/body/decoder/layer_0/ffn/conv1/kernel"
    variables[conv] = variables[conv][None]  # [1, in, out], as conv1d-based FFNs stored it
    model = MusicTransformer(config)
    convert_t2t.convert_weights(variables, model)
    np.testing.assert_array_equal(K.keras_t2t_map(model)[conv].numpy(), variables[conv][0])


@pytest.mark.parametrize("fmt,shards", [("v2", 1), ("v1", 4)])
def test_save_as_t2t_round_trips(tmp_path, fmt, shards):
    config = PARITY_CONFIGS["relative_per_head"]
    source = K.port_t2t_checkpoint(K.write_t2t_fixture(config, tmp_path / "src", seed=5), config=config)
    out = K.save_as_t2t(source, str(tmp_path / "out" / "model.ckpt-42"), global_step=42, num_shards=shards, fmt=fmt)
    written = read_checkpoint(out)
    assert written["global_step"] == 42
    assert set(written) - {"global_step"} == set(K.t2t_variable_shapes(config, num_shards=shards))
    again = K.port_t2t_checkpoint(out, config=config)
    for a, b in zip(source.trainable_weights, again.trainable_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    targets, _ = _features(config, seed=3)
    np.testing.assert_array_equal(source(targets).numpy(), again(targets).numpy())


def test_folder_without_state_file_resolves_to_the_newest_step(tmp_path):
    config = C.get("tiny")
    K.write_t2t_fixture(config, str(tmp_path / "model.ckpt-10"), seed=0)
    K.write_t2t_fixture(config, str(tmp_path / "model.ckpt-200"), seed=1)
    os.unlink(tmp_path / "checkpoint")
    assert K.resolve_checkpoint(str(tmp_path)).endswith("model.ckpt-200")
    model = K.port_t2t_checkpoint(str(tmp_path), config=config)
    name = "transformer/symbol_modality_310_32/shared/weights_0"
    np.testing.assert_array_equal(K.keras_t2t_map(model)[name].numpy(), K.fixture_variables(config, seed=1)[name])


@pytest.mark.slow
def test_full_size_unconditional_16_fixture_ports(tmp_path):
    config = C.get("unconditional_16")
    prefix = K.write_t2t_fixture(config, tmp_path, seed=0)
    model = K.port_t2t_checkpoint(prefix)  # architecture inferred: 16 layers, 512, dot-product, shared
    assert model.config.num_layers == 16 and not model.config.relative and model.config.shared_embedding_and_softmax
    targets = np.random.default_rng(0).integers(2, 310, (1, 16)).astype(np.int32)
    variables = read_checkpoint(prefix)
    want = ref.forward(variables, config, targets)
    got = model(targets).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
