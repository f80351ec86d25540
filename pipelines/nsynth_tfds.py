"""A TensorFlow Datasets builder for a local NSynth-format (jsonwav) folder.

The source folder (``examples.json`` + ``audio/*.wav``) is given as ``source_dir=`` to the
constructor, or as the download config's ``manual_dir``. Nothing is downloaded.
``as_dataset(split="train")`` yields dicts that match ``pipelines.nsynth.ELEMENT_SPEC``
(bad notes are skipped, as in ``iter_jsonwav_dir(..., skip_bad=True)``).

    builder = NsynthLocal(data_dir="/tmp/tfds", source_dir="data/my_nsynth")
    builder.download_and_prepare()
    ds = builder.as_dataset(split="train")
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np
import tensorflow_datasets as tfds

from pipelines.nsynth import INT_KEYS, NUM_QUALITIES, NUM_SAMPLES, SAMPLE_RATE, STR_KEYS, iter_jsonwav_dir


class NsynthLocal(tfds.core.GeneratorBasedBuilder):
    """Local NSynth jsonwav folder as a TFDS dataset with one split, ``train``."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First version: NSynth jsonwav folder, reader element layout."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Pass source_dir= to the builder, or set manual_dir to a folder holding an NSynth "
        "examples.json and audio/<note_str>.wav files (16 kHz, 64000 samples)."
    )

    def __init__(self, *, source_dir: Optional[str] = None, **kwargs):
        """Args: source_dir: the jsonwav folder (else the manual_dir); kwargs: for TFDS
        (``data_dir``, ``config``, ``version``...)."""
        self._source_dir = os.fspath(source_dir) if source_dir is not None else None
        super().__init__(**kwargs)
        self._original_state["source_dir"] = self._source_dir  # survives pickling

    def _info(self) -> tfds.core.DatasetInfo:
        features = {k: tfds.features.Scalar(dtype=np.int64) for k in INT_KEYS}
        features.update({k: tfds.features.Text() for k in STR_KEYS})
        features["qualities"] = tfds.features.Tensor(shape=(NUM_QUALITIES,), dtype=np.int64)
        features["audio"] = tfds.features.Audio(shape=(NUM_SAMPLES,), dtype=np.float32, sample_rate=SAMPLE_RATE)
        return self.dataset_info_from_configs(
            description="NSynth-format notes from a local folder (examples.json + audio/*.wav).",
            features=tfds.features.FeaturesDict(features),
            supervised_keys=None,
            homepage="https://magenta.tensorflow.org/datasets/nsynth",
        )

    def _split_generators(self, dl_manager):
        source = self._source_dir or (str(dl_manager.manual_dir) if dl_manager.manual_dir else None)
        if not source or not os.path.isfile(os.path.join(source, "examples.json")):
            raise FileNotFoundError(
                f"NsynthLocal: no examples.json in source folder {source!r}. {self.MANUAL_DOWNLOAD_INSTRUCTIONS}"
            )
        return {"train": self._generate_examples(source)}

    def _generate_examples(self, source):
        for element in iter_jsonwav_dir(source, skip_bad=True):
            yield element["note_str"].decode("utf-8"), element
