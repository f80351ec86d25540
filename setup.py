"""tfmusic: GANSynth, Melody RNN and Music Transformer in TensorFlow 2 / Keras 3, with their
data pipelines and an evaluation suite. See README.md."""

import pathlib

from setuptools import setup

HERE = pathlib.Path(__file__).parent


def _requirements():
    lines = (HERE / "requirements.txt").read_text().splitlines()
    reqs = [l.strip() for l in lines if l.strip() and not l.startswith("#")]
    return [
        r
        for r in reqs
        if not r.startswith(("pytest", "hypothesis", "apache-beam", "dask", "nbclient", "nbformat", "ipykernel"))
    ]


setup(
    name="tfmusic",
    version="0.1.0",
    description="Music generation (GANSynth, Melody RNN, Music Transformer) and evaluation in TF2/Keras 3",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=[
        "tfmusic",
        "pipelines",
        "gansynth_tf",
        "events_rnn",
        "melody_rnn_ext",
        "polyphony_rnn_ext",
        "drums_rnn_ext",
        "performance_rnn_ext",
        "improv_rnn_ext",
        "music_transformer_ext",
        "music_eval",
        "case_study",
    ],
    install_requires=_requirements(),
    extras_require={
        "beam": ["apache-beam[tfrecord]==2.77.0", "dask[distributed]==2026.8.0"],
        "dev": [
            "pytest==9.2.0",
            "pytest-xdist==3.8.0",
            "hypothesis==6.170.17",
            "nbclient==0.11.0",
            "nbformat==5.11.1",
            "ipykernel==7.4.0",
        ],
    },
    entry_points={
        "console_scripts": [
            "nsynth_render=pipelines.nsynth_render:main",
            "nsynth_to_tfrecord=pipelines.nsynth_to_tfrecord_cli:main",
            "convert_dir_to_note_sequences=pipelines.convert_dir_to_note_sequences_cli:main",
            "melody_rnn_create_dataset=melody_rnn_ext.create_dataset_cli:main",
            "music_transformer_create_dataset=music_transformer_ext.create_dataset_cli:main",
            "melody_rnn_train=melody_rnn_ext.train_cli:main",
            "melody_rnn_generate=melody_rnn_ext.generate_cli:main",
            "polyphony_rnn_create_dataset=polyphony_rnn_ext.create_dataset_cli:main",
            "polyphony_rnn_train=polyphony_rnn_ext.train_cli:main",
            "polyphony_rnn_generate=polyphony_rnn_ext.generate_cli:main",
            "drums_rnn_create_dataset=drums_rnn_ext.create_dataset_cli:main",
            "drums_rnn_train=drums_rnn_ext.train_cli:main",
            "drums_rnn_generate=drums_rnn_ext.generate_cli:main",
            "performance_rnn_create_dataset=performance_rnn_ext.create_dataset_cli:main",
            "performance_rnn_train=performance_rnn_ext.train_cli:main",
            "performance_rnn_generate=performance_rnn_ext.generate_cli:main",
            "improv_rnn_create_dataset=improv_rnn_ext.create_dataset_cli:main",
            "improv_rnn_train=improv_rnn_ext.train_cli:main",
            "improv_rnn_generate=improv_rnn_ext.generate_cli:main",
            "music_transformer_train=music_transformer_ext.train_cli:main",
            "music_transformer_generate=music_transformer_ext.generate_cli:main",
            "tfmusic_study=case_study.study:main",
            "gansynth_train=gansynth_tf.train_cli:main",
            "gansynth_generate=gansynth_tf.generate_cli:main",
            "music_eval=music_eval.cli:main",
            "music_eval_train_classifier=music_eval.cli:train_classifier_main",
        ],
    },
)
