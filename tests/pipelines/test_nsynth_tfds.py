"""pipelines.nsynth_tfds: the TFDS builder prepares a local NSynth folder offline."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from pipelines import nsynth
from pipelines.nsynth_tfds import NsynthLocal
from tests.pipelines.test_nsynth_readers import assert_elements_equal


def test_tfds_builder_on_real_sample(tmp_path, nsynth_sample_dir):
    builder = NsynthLocal(data_dir=str(tmp_path), source_dir=str(nsynth_sample_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    assert builder.info.splits["train"].num_examples == 12
    ds = builder.as_dataset(split="train", shuffle_files=False)
    assert ds.element_spec == nsynth.ELEMENT_SPEC
    got = sorted(ds.as_numpy_iterator(), key=lambda e: e["note_str"])
    expected = list(nsynth.iter_jsonwav_dir(nsynth_sample_dir))
    assert len(got) == 12
    for a, b in zip(got, expected):
        assert_elements_equal(a, b)
    assert all(e["pitch"] == 60 for e in got)
    # a second builder reads the prepared data back without a source folder
    again = NsynthLocal(data_dir=str(tmp_path))
    assert sum(1 for _ in again.as_dataset(split="train")) == 12


def test_tfds_builder_manual_dir_and_missing_source(tmp_path, nsynth_sample_dir):
    builder = NsynthLocal(data_dir=str(tmp_path / "a"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(nsynth_sample_dir)))
    audio = next(iter(builder.as_dataset(split="train").take(1)))["audio"].numpy()
    assert audio.shape == (64000,) and np.abs(audio).max() > 0.1
    with pytest.raises(Exception, match="examples.json"):
        NsynthLocal(data_dir=str(tmp_path / "b"), source_dir=str(tmp_path / "nowhere")).download_and_prepare()
