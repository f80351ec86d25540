"""Fixtures of the music_transformer_ext tests."""

import pytest


@pytest.fixture(scope="session")
def jsb_json(shared_data):
    """The JSB Chorales JSON of ../shared/data (the split the Music Transformer paper used); skips without it."""
    path = shared_data / "jsb_chorales" / "Jsb16thSeparated.json"
    if not path.exists():
        pytest.skip(f"missing {path}")
    return path
