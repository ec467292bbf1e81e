"""Atomic output files: permissions as any new file, nothing left behind on failure."""

import os
import stat

import pandas as pd
import pytest

from freshcast.outputs import write_table, write_text


def test_outputs_follow_the_umask_not_the_private_temp_file(tmp_path):
    old = os.umask(0o027)
    try:
        parquet = write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "pred.parquet")
        text = write_text(tmp_path / "notes.txt", "x")
    finally:
        os.umask(old)
    for path in (parquet, text):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert pd.read_parquet(parquet)["a"].tolist() == [1, 2]


def test_a_failed_write_leaves_neither_file_nor_temp(tmp_path):
    class Boom(Exception):
        pass

    class Bad(pd.DataFrame):
        def to_csv(self, *args, **kwargs):
            raise Boom

    with pytest.raises(Boom):
        write_table(Bad({"a": [1]}), tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []
