"""tfmusic.files: a file appears under its final name complete, or not at all."""

import os
import stat

import pytest

from tfmusic import files


def _temp_files(folder):
    return [p for p in os.listdir(folder) if files.TEMP_MARK in p]


def test_atomic_file_commit_replaces_the_target_with_open_s_mode(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    with files.AtomicFile(target) as f:
        assert os.path.dirname(f.temp_path) == str(tmp_path / "sub")
        assert os.path.basename(f.temp_path).startswith("out.bin" + files.TEMP_MARK)
        with open(f.temp_path, "wb") as out:
            out.write(b"new")
        assert not target.exists()
    assert target.read_bytes() == b"new" and not _temp_files(tmp_path / "sub")
    plain = tmp_path / "sub" / "plain.bin"
    plain.write_bytes(b"")
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_atomic_file_abort_and_exceptions_leave_the_target_as_it_was(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    pending = files.AtomicFile(target)
    with open(pending.temp_path, "w") as out:
        out.write("half")
    pending.abort()
    assert target.read_text() == "old" and not _temp_files(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_open(target, "w") as out:
            out.write("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old" and not _temp_files(tmp_path)
    files.atomic_write_text(target, "new")
    assert target.read_text() == "new" and not _temp_files(tmp_path)


def test_atomic_open_refuses_read_modes(tmp_path):
    with pytest.raises(ValueError, match="writes only"):
        with files.atomic_open(tmp_path / "x", "rb"):
            pass
    assert not os.listdir(tmp_path)
