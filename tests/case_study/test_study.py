"""``tfmusic_study`` end to end on tiny models: a Melody RNN bundle, a tensor2tensor-named Music
Transformer checkpoint and a GANSynth run, all made here; the primer is a Bach chorale opening."""

import dataclasses
import json

import numpy as np
import pretty_midi
import pytest
import tensorflow as tf

from case_study import study


def test_without_any_model_the_study_says_what_to_pass(tmp_path, capsys):
    rc = study.main(["--out_dir", str(tmp_path / "out"), "--demo_dir", str(tmp_path / "no_demo"), "--no_zoo"])
    assert rc == 2
    assert "no model to generate with" in capsys.readouterr().err


def test_models_not_given_come_from_the_zoo_then_the_demo(tmp_path, monkeypatch):
    from tfmusic import zoo

    monkeypatch.setenv(zoo.ZOO_ENV, str(tmp_path / "zoo"))
    folder = tmp_path / "zoo" / study.ZOO_DEFAULTS["melody_rnn_bundle"]
    folder.mkdir(parents=True)
    (folder / "m.mag").write_bytes(b"")
    (folder / "model.json").write_text(json.dumps({"family": "melody_rnn", "weights": "m.mag"}))
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / study.MANIFEST).write_text(json.dumps({"melody_rnn_run": "demo_run", "gansynth_run": "demo_gan"}))
    config = study.resolve_models(study.StudyConfig(), str(demo))
    # the zoo's melody model wins over the demo's run; the demo fills what the zoo lacks
    assert config.melody_rnn_bundle == str(folder / "m.mag") and config.melody_rnn_run is None
    assert config.gansynth_run == "demo_gan"
    # a model the user gives is kept, and keeps the zoo's alternative out
    given = study.resolve_models(study.StudyConfig(melody_rnn_run="mine"), str(demo))
    assert given.melody_rnn_run == "mine" and given.melody_rnn_bundle is None
    # --no_zoo: the demo's models only
    assert study.resolve_models(study.StudyConfig(), str(demo), use_zoo=False).melody_rnn_run == "demo_run"


def test_missing_primer_is_named(tmp_path, capsys):
    rc = study.main([str(tmp_path / "nope.mid"), "--out_dir", str(tmp_path / "out"), "--melody_rnn_bundle", "x.mag"])
    assert rc == 2 and "nope.mid: primer MIDI file not found" in capsys.readouterr().err


def test_rows_are_named_by_model_and_role(tmp_path, monkeypatch):
    from tfmusic import zoo

    monkeypatch.setenv(zoo.ZOO_ENV, str(tmp_path / "zoo"))
    folder = tmp_path / "zoo" / "melody_rnn_attention"
    folder.mkdir(parents=True)
    (folder / "attention_rnn.mag").write_bytes(b"")
    (folder / "model.json").write_text(json.dumps({"family": "melody_rnn", "weights": "attention_rnn.mag"}))
    assert study.model_name(str(folder / "attention_rnn.mag")) == "melody_rnn_attention"
    assert study.model_name(str(tmp_path / "demo" / "music_transformer" / "run")) == "music_transformer/run"
    config = study.StudyConfig(
        melody_rnn_bundle=str(folder / "attention_rnn.mag"),
        transformer_model_dir=str(tmp_path / "demo" / "music_transformer" / "run"),
        transformer_accompany_dir=str(tmp_path / "harmonizer"),
    )
    midis = {
        "melody_rnn": [tmp_path / "a.mid"],
        "transformer": [tmp_path / "b.mid", tmp_path / "c.mid"],
        "transformer_accompaniment": [tmp_path / "d.mid"],
    }
    assert study.output_names(config, midis) == {
        str(tmp_path / "a.mid"): "Melody RNN (melody_rnn_attention) continuation",
        str(tmp_path / "b.mid"): "Music Transformer (music_transformer/run) continuation 1",
        str(tmp_path / "c.mid"): "Music Transformer (music_transformer/run) continuation 2",
        str(tmp_path / "d.mid"): f"Music Transformer ({tmp_path.name}/harmonizer) accompaniment",
    }


def test_top_line_is_the_skyline(tmp_path):
    midi = pretty_midi.PrettyMIDI(initial_tempo=100)
    inst = pretty_midi.Instrument(0)
    # soprano holds 72 over 0..2 while the alto moves 60 -> 62 at 1.0; then 71 at 2.0 over a 55
    inst.notes = [
        pretty_midi.Note(80, 72, 0.0, 2.0),
        pretty_midi.Note(80, 60, 0.0, 1.0),
        pretty_midi.Note(80, 62, 1.0, 2.0),
        pretty_midi.Note(80, 71, 2.0, 3.0),
        pretty_midi.Note(80, 55, 2.0, 3.0),
    ]
    midi.instruments.append(inst)
    midi.write(str(tmp_path / "in.mid"))
    line = pretty_midi.PrettyMIDI(str(study.top_line(tmp_path / "in.mid", tmp_path / "top.mid")))
    assert [n.pitch for n in line.instruments[0].notes] == [72, 71]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from gansynth_tf import config as gcfg
    from gansynth_tf import gan
    from melody_rnn_ext import bundle, config as mcfg, model as mmodel
    from music_transformer_ext import checkpoints, config as tcfg
    from tfmusic import training

    root = tmp_path_factory.mktemp("models")
    melody_config = mcfg.MODEL_PRESETS.get("tiny")
    mag = str(root / "tiny.mag")
    bundle.write_bundle(mmodel.build_model(melody_config), melody_config, mag, description="study test")
    t2t = checkpoints.write_t2t_fixture(tcfg.get("tiny"), str(root / "t2t"), seed=0)
    cfg = gcfg.get_preset(
        "cpu_small",
        ["trainer.train_steps=1", "trainer.global_batch_size=4", "trainer.progress=false", "runtime.jit_compile=false"],
    )
    run = str(root / "gansynth")
    fn = gan.synthetic_dataset_fn(8, cfg.data.spectral.spec_shape, cfg.data.num_pitches, seed=0)
    training.Runner(gan.GANSynthTask(cfg, fn), cfg, run, strategy=tf.distribute.OneDeviceStrategy("/cpu:0")).train()
    return {"melody_rnn_bundle": mag, "transformer_checkpoint": t2t, "transformer_preset": "tiny", "gansynth_run": run}


@pytest.mark.slow
def test_study_end_to_end_on_tiny_models(tmp_path, tiny_models):
    out = tmp_path / "study"
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / study.MANIFEST).write_text(json.dumps(tiny_models))  # models found through the demo's manifest
    rc = study.main(
        [
            "--out_dir",
            str(out),
            "--demo_dir",
            str(demo),
            "--no_zoo",
            "--primer_seconds",
            "6",
            "--melody_steps",
            "48",
            "--transformer_events",
            "48",
            "--transformer_primer_events",
            "64",
        ]
    )
    assert rc == 0
    primer = out / "primer_bwv66.6.mid"
    top = pretty_midi.PrettyMIDI(str(out / "generated" / "primer_top_line.mid")).instruments[0].notes
    melody_files = sorted((out / "generated" / "melody_rnn").glob("*.mid"))
    transformer_files = sorted((out / "generated" / "transformer").glob("*.mid"))
    assert len(melody_files) == 1 and len(transformer_files) == 1
    continued = pretty_midi.PrettyMIDI(str(melody_files[0]))
    notes = sorted((n for i in continued.instruments for n in i.notes), key=lambda n: n.start)
    # the RNN's output starts with the primer's top line (transposed into its range by octaves at most)
    assert [(n.pitch - top[0].pitch) % 12 for n in notes[:3]] == [(n.pitch - top[0].pitch) % 12 for n in top[:3]]
    assert continued.get_end_time() > pretty_midi.PrettyMIDI(str(primer)).get_end_time() * 0.5
    wavs = sorted((out / "audio").glob("*.wav"))
    names = {w.name for w in wavs}
    for f in melody_files + transformer_files:
        for kind in ("fluidsynth", "gansynth_fixed", "gansynth_interpolate"):
            assert any(n.endswith(f"{f.stem}_{kind}.wav") for n in names), (f.stem, kind, names)
    import soundfile as sf

    for w in wavs:
        audio, rate = sf.read(str(w))
        assert rate == 16000 and audio.size > 16000 and np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 1e-4, w
    report = out / "evaluation" / "report.html"
    table = json.loads((out / "evaluation" / "comparison.json").read_text())
    assert report.is_file()
    # rows named by model and role, not by file names
    pieces = [row["piece"] for row in table["rows"]]
    name = {k: study.model_name(v) for k, v in tiny_models.items()}
    assert name["melody_rnn_bundle"].endswith("/tiny") and name["gansynth_run"].endswith("/gansynth")
    melody = f"Melody RNN ({name['melody_rnn_bundle']}) continuation"
    transformer = f"Music Transformer ({name['transformer_checkpoint']}) continuation"
    renderings = [
        "FluidSynth",
        f"GANSynth ({name['gansynth_run']}), fixed timbre",
        f"GANSynth ({name['gansynth_run']}), interpolated timbre",
    ]
    assert pieces[0] == "primer: Bach chorale bwv66.6, first 6 s"
    assert sorted(pieces[1:]) == sorted(
        [melody, transformer] + [f"{m}, {r}" for m in (melody, transformer) for r in renderings]
    ), pieces
    for column in ("tempo_bpm", "tempo_ratio", "meter", "key", "key_score", "rms_ratio", "pc_js", "ioi_js"):
        assert column in table["columns"], column
    for row in table["rows"][1:]:
        assert row["tempo_ratio"] > 0 and row["rms_ratio"] > 0, row
    # MIDI and its FluidSynth wav are both at the loudness reference: the same energy against the primer
    by_name = {row["piece"]: row for row in table["rows"]}
    for model in (melody, transformer):
        assert by_name[model]["rms_ratio"] == pytest.approx(1.0, abs=0.02)
        assert by_name[f"{model}, FluidSynth"]["rms_ratio"] == pytest.approx(1.0, abs=0.1)
    from ..browser import CHROMIUM, assert_report_reads_well

    if CHROMIUM:
        assert_report_reads_well(report, tmp_path / "screenshots")


def test_melody_beam_search_flags_reach_melody_rnn_generate(tmp_path):
    from melody_rnn_ext import generate_cli

    primer = study.default_primer(tmp_path / "primer.mid", 4.0)
    line = study.top_line(primer, tmp_path / "line.mid")
    search = ("melody_beam_size", "melody_branch_factor", "melody_steps_per_iteration")
    defaults = vars(study.build_parser().parse_args([]))
    assert [defaults[f] for f in search] == [getattr(study.StudyConfig(), f) for f in search]
    argv = ["--melody_beam_size", "3", "--melody_branch_factor", "2", "--melody_steps_per_iteration", "8"]
    argv += ["--melody_rnn_bundle", "melody_rnn_attention", "--melody_steps", "48", "--seed", "3"]
    args = vars(study.build_parser().parse_args(argv))
    config = study.StudyConfig(
        **{f.name: args[f.name] for f in dataclasses.fields(study.StudyConfig) if f.name in args}
    )
    assert (config.melody_beam_size, config.melody_branch_factor, config.melody_steps_per_iteration) == (3, 2, 8)
    made = study._melody_rnn(config, line, tmp_path / "study")
    flags = "--num_steps 48 --seed 3 --beam_size 3 --branch_factor 2 --steps_per_iteration 8 --num_outputs 1"
    argv = ["--bundle_file", "melody_rnn_attention", "--primer_midi", str(line), "--output_dir", str(tmp_path / "cli")]
    assert generate_cli.main(argv + flags.split()) == 0
    direct = sorted((tmp_path / "cli").glob("*.mid"))
    assert len(made) == len(direct) == 1

    def notes(path):
        return [(n.pitch, round(n.start, 3)) for i in pretty_midi.PrettyMIDI(str(path)).instruments for n in i.notes]

    assert notes(made[0]) == notes(direct[0]) and len(notes(made[0])) > 3
    # plain sampling (the default) with the same seed is another melody
    plain = study._melody_rnn(
        study.StudyConfig(melody_rnn_bundle="melody_rnn_attention", melody_steps=48, seed=3), line, tmp_path / "plain"
    )
    assert notes(plain[0]) != notes(made[0])
