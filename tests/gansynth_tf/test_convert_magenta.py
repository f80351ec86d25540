"""Magenta's released GANSynth checkpoint format -> Keras: flags, stage choice, strict porting,
EMA weights, and parity with a NumPy transcription of Magenta's generator.

The fixture (:mod:`tests.gansynth_tf.magenta_fixture`) is written by TF1 itself (``tf.compat.v1``
variables under Magenta's scopes, TF1's Adam slots and ``ExponentialMovingAverage`` shadows, a
default ``Saver``) beside an ``experiment.json`` of Magenta's flags.
"""

import json
import os

import numpy as np
import pytest

from gansynth_tf import convert_magenta as CM
from gansynth_tf import generate_cli
from gansynth_tf import synthesize as S
from tests.gansynth_tf import magenta_fixture as MF
from tfmusic import tf1_checkpoints as tf1

PARITY_TOL = 1e-5


@pytest.fixture(scope="module")
def magenta_dir(tmp_path_factory):
    """An unzipped-release-shaped folder: experiment.json, an older stage_00003 and the final stage_00004."""
    path = str(tmp_path_factory.mktemp("acoustic_only"))
    MF.write_magenta_folder(path, stage_id=3, global_step=40, seed=1)
    saved = MF.write_magenta_folder(path, stage_id=4, global_step=88, seed=2)
    return path, saved


def _inputs(latent_size, n=5, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, latent_size)).astype(np.float32)
    pitches = np.array([24, 40, 60, 72, 84][:n])
    return z, pitches


def test_fixture_holds_magentas_names_written_by_tf1(magenta_dir):
    _, saved = magenta_dir
    ema = [k for k in saved if k.endswith("/ExponentialMovingAverage")]
    assert len(ema) == 3 * 3 * 2  # 3 blocks x (conv0, conv1, to_rgb) x (kernel, bias)
    assert "Generator/progressive_gan_generator/progressive_gan_block_1/conv0/conv2d/kernel" in saved
    assert "Discriminator/progressive_gan_discriminator/progressive_gan_block_1/logits/dense/kernel" in saved
    assert any(k.endswith("/Adam_1") for k in saved) and "progressive_gan_train_ops/beta1_power_1" in saved
    raw = saved["Generator/progressive_gan_generator/progressive_gan_block_2/conv1/bias"]
    assert not np.allclose(
        raw, saved["Generator/progressive_gan_generator/progressive_gan_block_2/conv1/bias/ExponentialMovingAverage"]
    )


def test_flags_map_into_the_config(magenta_dir):
    path, _ = magenta_dir
    cfg, normalizer = CM.read_experiment(path)
    m, d = cfg.model, cfg.data
    assert (m.latent_size, m.start_shape, m.num_resolutions, m.fmap_base, m.fmap_max) == (8, (2, 4), 3, 128, 16)
    assert (m.generator_ac_loss_weight, m.generator_learning_rate, m.adam_beta2) == (10.0, 8e-4, 0.99)
    assert m.progressive and m.total_num_images == 88 and m.generator_ema_decay == 0.999
    assert d.spectral.spec_shape == (8, 16) and d.spectral.mel and d.spectral.audio_length == 64
    assert (d.min_pitch, d.max_pitch) == (24, 84)
    assert cfg.trainer.global_batch_size == 4 and cfg.trainer.train_steps == 22
    assert normalizer.a == (0.0661371661726, 0.8) and normalizer.b == (0.113718730221, 0.0)


def test_missing_flags_take_magentas_defaults():
    flags = {k: v for k, v in MF.SMALL_FLAGS.items() if k not in ("generator_ac_loss_weight", "fake_batch_size")}
    cfg, _ = CM.convert_config({**CM.MAGENTA_DEFAULTS, **flags})
    assert cfg.model.generator_ac_loss_weight == 1.0  # model.set_flags' default


@pytest.mark.parametrize(
    "key,value,words",
    [
        ("scale_mode", "H", "scale_mode='H'"),
        ("data_type", "wave", "data_type='wave'"),
        ("simple_arch", True, "simple_arch=True"),
        ("train_time_limit", 3600, "train_time_limit=3600"),
        ("gen_gl_consistency_loss_weight", 1.0, "gen_gl_consistency_loss_weight"),
        ("data_normalizer", "specgrams_freq_normalizer", "specgrams_freq_normalizer"),
        ("my_new_flag", 1, "unknown flags my_new_flag"),
        ("latent_vector_size", "big", "latent_vector_size='big'"),
    ],
)
def test_unsupported_flags_are_refused_by_name(tmp_path, key, value, words):
    flags = {**MF.SMALL_FLAGS, key: value}
    (tmp_path / "experiment.json").write_text(json.dumps(flags))
    with pytest.raises(CM.MagentaCheckpointError, match="experiment.json") as e:
        CM.read_experiment(str(tmp_path))
    assert words in str(e.value)


def test_experiment_json_one_folder_above_with_jobs(tmp_path):
    (tmp_path / "experiment.json").write_text(json.dumps({"jobs": {"acoustic_only": MF.SMALL_FLAGS}}))
    (tmp_path / "acoustic_only").mkdir()
    cfg, _ = CM.read_experiment(str(tmp_path / "acoustic_only"))
    assert cfg.model.latent_size == 8


def test_stage_choice_is_magentas(magenta_dir):
    path, _ = magenta_dir
    stage = CM.find_stage_checkpoint(path)
    assert stage.stage_id == 4 and stage.prefix.endswith(os.path.join("stage_00004", "model.ckpt-88"))
    cfg, _ = CM.read_experiment(path)
    assert CM.magenta_progress(88, 4, cfg.model) == 2.0
    # Stage 3 is the last transition: 3 blocks, progress from the image counter (16+16+16+8 -> 1.5).
    assert CM.stage_num_blocks(3, 3) == 3 and CM.magenta_progress(56, 3, cfg.model) == 1.5


def test_no_stage_folder_is_a_clear_error(tmp_path):
    (tmp_path / "experiment.json").write_text(json.dumps(MF.SMALL_FLAGS))
    with pytest.raises(CM.MagentaCheckpointError, match="no stage_NNNNN folders"):
        S.GANSynthSynthesizer.from_magenta_dir(str(tmp_path))


def _parity(path, saved, use_ema):
    """Our converted synthesizer against the NumPy transcription, on the same latents and pitches.

    Returns (synth, figures): max abs differences of the network output (normalised, [-1, 1]), of the
    denormalised specgram and of the audio (both decoded by our specgram -> wave), each also relative
    to the reference's peak, and the same for Magenta's forward pass computed in float32 (TF1's
    precision) against float64: the floor any float32 implementation sits on.
    """
    synth = S.GANSynthSynthesizer.from_magenta_dir(path, use_ema=use_ema)
    z, pitches = _inputs(synth.latent_size)
    audio, specs = synth.generate(z, pitches)
    one_hot = np.eye(61)[pitches - 24]
    run = lambda **kw: MF.reference_generator(saved, MF.SMALL_FLAGS, z, one_hot, progress=2.0, use_ema=use_ema, **kw)
    ref, ref32 = run(), run(dtype=np.float32)
    decode = lambda x: synth.helper.decode(np.asarray(x, np.float32)).numpy()[..., 0]
    ref_audio = decode(ref)
    ours_norm = synth.generator((z, one_hot.astype(np.float32)), training=False).numpy()
    err = lambda x, r: float(np.max(np.abs(x - r)))
    figures = {
        "network_output": err(ours_norm, run(normalized=True)),
        "specgram": err(specs, ref),
        "specgram_rel": err(specs, ref) / float(np.max(np.abs(ref))),
        "audio": err(audio, ref_audio),
        "audio_rel": err(audio, ref_audio) / float(np.max(np.abs(ref_audio))),
        "float32_floor_specgram": err(ref32, ref),
        "float32_floor_audio": err(decode(ref32), ref_audio),
        "specgram_peak": float(np.max(np.abs(ref))),
        "audio_peak": float(np.max(np.abs(ref_audio))),
    }
    return synth, specs, figures


def _report(label, f):
    print(
        f"\nMagenta GANSynth parity ({label}), max abs diff: network output {f['network_output']:.2e}; "
        f"specgram {f['specgram']:.2e} (peak {f['specgram_peak']:.1f}, relative {f['specgram_rel']:.1e}); "
        f"audio {f['audio']:.2e} (peak {f['audio_peak']:.2f}, relative {f['audio_rel']:.1e}); "
        f"float32 floor (NumPy float32 vs float64): specgram {f['float32_floor_specgram']:.2e}, "
        f"audio {f['float32_floor_audio']:.2e}"
    )


def _assert_parity(f):
    # The network's own output within 1e-5; the denormalised specgram (log magnitudes up to ~16, the
    # normaliser's 1 / 0.066 magnifies float32 rounding) and the audio within 1e-5 of their peak. In
    # absolute terms both sit at float32's own floor (the NumPy reference run in float32 is as far
    # from its float64 run), which _report prints beside them.
    assert f["network_output"] < PARITY_TOL
    assert f["specgram_rel"] < PARITY_TOL and f["audio_rel"] < PARITY_TOL


def test_parity_with_numpy_magenta_generator_ema(magenta_dir):
    path, saved = magenta_dir
    synth, specs, f = _parity(path, saved, use_ema=True)
    assert synth.uses_ema and synth.checkpoint.endswith("model.ckpt-88") and synth.progress is None
    _report("EMA weights", f)
    _assert_parity(f)
    # The moving averages were taken, not the raw weights.
    z, pitches = _inputs(8)
    raw = MF.reference_generator(saved, MF.SMALL_FLAGS, z, np.eye(61)[pitches - 24], progress=2.0, use_ema=False)
    assert np.max(np.abs(specs - raw)) > 1e-2


def test_parity_raw_weights(magenta_dir):
    path, saved = magenta_dir
    synth, _, f = _parity(path, saved, use_ema=False)
    assert not synth.uses_ema
    _report("raw weights", f)
    _assert_parity(f)


def test_earlier_stage_runs_at_its_own_progress(tmp_path):
    """A folder whose last stage is a transition (stage 3, progress 1.5): blocks blend as Magenta's."""
    saved = MF.write_magenta_folder(str(tmp_path), stage_id=3, global_step=56, seed=3)
    synth = S.GANSynthSynthesizer.from_magenta_dir(str(tmp_path))
    assert synth.progress == 1.5
    z, pitches = _inputs(8, n=3)
    _, specs = synth.generate(z, pitches)
    ref = MF.reference_generator(saved, MF.SMALL_FLAGS, z, np.eye(61)[pitches - 24], progress=1.5)
    assert np.max(np.abs(specs - ref)) / np.max(np.abs(ref)) < PARITY_TOL


def test_stage_with_fewer_blocks_zero_fills_the_rest(tmp_path):
    saved = MF.write_magenta_folder(str(tmp_path), stage_id=2, global_step=40, seed=4)  # 2 blocks, progress 1
    synth = S.GANSynthSynthesizer.from_magenta_dir(str(tmp_path))
    assert synth.progress == 1.0
    z, pitches = _inputs(8, n=2)
    _, specs = synth.generate(z, pitches)
    ref = MF.reference_generator(saved, MF.SMALL_FLAGS, z, np.eye(61)[pitches - 24], progress=1.0, num_blocks=2)
    assert np.max(np.abs(specs - ref)) / np.max(np.abs(ref)) < PARITY_TOL


def test_missing_and_extra_variables_are_named(magenta_dir):
    path, saved = magenta_dir
    cfg, _ = CM.read_experiment(path)
    from gansynth_tf.generator import build_generator

    g = build_generator(cfg.model, 61)
    name = "Generator/progressive_gan_generator/progressive_gan_block_3/to_rgb/bias/ExponentialMovingAverage"
    broken = {k: v for k, v in saved.items() if k != name}
    with pytest.raises(tf1.PortingError, match="to_rgb/bias/ExponentialMovingAverage"):
        CM.convert_weights(broken, g)
    extra = {**saved, "Generator/progressive_gan_generator/progressive_gan_block_9/conv0/bias": np.zeros(3)}
    with pytest.raises(tf1.PortingError, match="unused checkpoint variables: .*block_9/conv0/bias"):
        CM.convert_weights(extra, g)


def test_discriminator_and_ema_port_for_fine_tuning(magenta_dir):
    path, saved = magenta_dir
    cfg, _ = CM.read_experiment(path)
    from gansynth_tf.discriminator import build_discriminator
    from gansynth_tf.gan import GeneratorEMA
    from gansynth_tf.generator import build_generator

    g, d = build_generator(cfg.model, 61), build_discriminator(cfg.model, 61)
    ema = GeneratorEMA(g, 0.999)
    CM.convert_weights(saved, g, d, generator_ema=ema.averages)
    gen = "Generator/progressive_gan_generator/progressive_gan_block_1/conv0"
    np.testing.assert_array_equal(g.blocks[0].conv0.kernel.numpy(), saved[f"{gen}/conv2d/kernel"])
    i = [id(v) for v in g.weights].index(id(g.blocks[0].conv0.kernel))
    np.testing.assert_array_equal(ema.averages[i].numpy(), saved[f"{gen}/conv2d/kernel/ExponentialMovingAverage"])
    cls = "Discriminator/discriminator_cond/classification_logits"
    np.testing.assert_array_equal(d.classification_logits.kernel.numpy(), saved[f"{cls}/dense/kernel"])


def test_generate_cli_notes_and_midi_from_a_magenta_folder(magenta_dir, tmp_path, capsys):
    path, _ = magenta_dir
    out = tmp_path / "notes"
    assert (
        generate_cli.main(["notes", "--ckpt_dir", path, "--output_dir", str(out), "--pitches", "60,61", "--seeds", "0"])
        == 0
    )
    assert sorted(os.listdir(out)) == ["pitch60_seed0.wav", "pitch61_seed0.wav"]
    assert "model.ckpt-88 (EMA weights)" in capsys.readouterr().out
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes += [pretty_midi.Note(100, 60, 0.0, 0.002), pretty_midi.Note(90, 64, 0.003, 0.005)]
    pm.instruments.append(inst)
    pm.write(str(tmp_path / "two.mid"))
    assert (
        generate_cli.main(
            [
                "midi",
                "--ckpt_dir",
                path,
                "--midi_file",
                str(tmp_path / "two.mid"),
                "--output_file",
                str(tmp_path / "two.wav"),
            ]
        )
        == 0
    )
    assert (tmp_path / "two.wav").exists()
    assert (
        generate_cli.main(
            ["notes", "--ckpt_dir", path, "--checkpoint", "3", "--output_dir", str(out), "--pitches", "60"]
        )
        == 2
    )
    assert generate_cli.main(["export", "--ckpt_dir", path, "--export_dir", str(tmp_path / "saved")]) == 0
    assert (tmp_path / "saved" / "saved_model.pb").exists()


WARM_SETS = [
    "trainer.train_steps=1",
    "trainer.global_batch_size=4",
    "trainer.progress=false",
    "trainer.media_every=0",
    "trainer.checkpoint_every=1",
    "runtime.jit_compile=false",
    "runtime.distribution=one_device",
    "data.instrument_sources=[]",
    "data.shuffle_buffer=4",
]


def test_gansynth_train_warm_start_fine_tunes_from_a_magenta_folder(magenta_dir, nsynth_sample_dir, tmp_path):
    from gansynth_tf import train_cli
    from gansynth_tf.config import GANSynthExperiment
    from gansynth_tf.normalizer import SpecgramNormalizer
    from tfmusic import config as config_lib

    path, saved = magenta_dir
    run = tmp_path / "ft"
    argv = ["--model_dir", str(run), "--train_data", str(nsynth_sample_dir), "--warm_start", path]
    for s in WARM_SETS:
        argv += ["--set", s]
    assert train_cli.main(argv) == 0
    cfg = config_lib.load_json(GANSynthExperiment, str(run / "config.json"))
    assert cfg.warm_start.magenta_dir == os.path.abspath(path) and not cfg.model.progressive
    assert cfg.model.latent_size == 8 and cfg.data.spectral.spec_shape == (8, 16)
    assert SpecgramNormalizer.load(run / "normalizer.json").a == (0.0661371661726, 0.8)
    # One Adam step (lr 8e-4) away from Magenta's weights: the discriminator's raw ones, and the
    # generator's moving average from Magenta's shadows (decay 0.999), not from the raw weights.
    synth = S.GANSynthSynthesizer.from_model_dir(str(run))
    assert synth.uses_ema
    gen = "Generator/progressive_gan_generator/progressive_gan_block_2/conv1/conv2d/kernel"
    ours = synth.generator.blocks[1].conv1.kernel.numpy()
    assert np.max(np.abs(ours - saved[gen + "/ExponentialMovingAverage"])) < 5e-3
    assert np.max(np.abs(ours - saved[gen])) > 5e-2
    raw = S.GANSynthSynthesizer.from_model_dir(str(run), use_ema=False).generator.blocks[1].conv1.kernel.numpy()
    assert 0 < np.max(np.abs(raw - saved[gen])) < 5e-3
    import tensorflow as tf

    from gansynth_tf.discriminator import build_discriminator

    d = build_discriminator(cfg.model, cfg.data.num_pitches)
    tf.train.Checkpoint(discriminator=d).restore(tf.train.latest_checkpoint(str(run))).expect_partial()
    dis = "Discriminator/discriminator_cond/classification_logits/dense/kernel"
    assert 0 < np.max(np.abs(d.classification_logits.kernel.numpy() - saved[dis])) < 5e-3


@pytest.mark.slow
def test_gansynth_train_resumes_after_the_warm_start_folder_moved(magenta_dir, nsynth_sample_dir, tmp_path, capsys):
    """The run's own checkpoint wins: the same command line resumes after the Magenta folder moved, reading
    neither its experiment.json nor its checkpoint."""
    import shutil

    from gansynth_tf import train_cli

    folder = tmp_path / "acoustic_only"
    shutil.copytree(magenta_dir[0], folder)
    run = tmp_path / "ft"
    argv = ["--model_dir", str(run), "--train_data", str(nsynth_sample_dir), "--warm_start", str(folder)]
    for s in WARM_SETS:
        argv += ["--set", s]
    assert train_cli.main(argv) == 0
    assert "steps 0 -> 1" in capsys.readouterr().out
    shutil.move(str(folder), str(tmp_path / "moved_away"))
    assert train_cli.main(argv + ["--set", "trainer.train_steps=2"]) == 0
    captured = capsys.readouterr()
    assert f"resuming {run}" in captured.out and "steps 1 -> 2" in captured.out and not captured.err, captured
    import gansynth_tf

    assert gansynth_tf.load(str(run)).uses_ema  # the library's load of the run folder


def test_warm_start_refuses_an_unfinished_folder_and_preset(tmp_path, nsynth_sample_dir, capsys):
    from gansynth_tf import train_cli

    early = tmp_path / "early"
    MF.write_magenta_folder(str(early), stage_id=2, global_step=40)
    argv = ["--model_dir", str(tmp_path / "ft"), "--train_data", str(nsynth_sample_dir), "--warm_start", str(early)]
    for s in WARM_SETS:
        argv += ["--set", s]
    assert train_cli.main(argv) == 2
    assert "fine-tuning needs the final stage (stage_00004" in capsys.readouterr().err
    assert train_cli.main(argv[:4] + ["--warm_start", str(early), "--preset", "tiny"]) == 2
    assert "drop --preset" in capsys.readouterr().err
