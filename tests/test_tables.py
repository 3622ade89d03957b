"""Sample tables: file formats, validation against a space, helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import CONFIGS

from jointnas.data import epoch_columns, read_space, read_table, usable_rows, validate_table, write_table
from jointnas.errors import TableError


@pytest.fixture
def space():
    return read_space(CONFIGS / "digits.yaml")


@pytest.fixture
def table(space):
    frame = space.sample(20, seed=0, frame=True)
    frame["acc"] = np.linspace(0.5, 0.9, 20)
    frame["status"] = ["ok"] * 18 + ["diverged", "failed"]
    return frame


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_round_trip_keeps_values_valid(space, table, tmp_path, suffix):
    path = tmp_path / f"samples{suffix}"
    write_table(table, path)
    back = read_table(path)
    validate_table(back, space, where=str(path), require=["acc"])
    assert space.configs(back) == space.configs(table)


def test_missing_variable_column(space, table):
    with pytest.raises(TableError, match="missing variable column.*s2_kernel.*samples.csv"):
        validate_table(table.drop(columns="s2_kernel"), space, where="samples.csv")


def test_missing_required_column(space, table):
    with pytest.raises(TableError, match="missing column.*val_acc"):
        validate_table(table, space, require=["val_acc"])


def test_value_outside_space_names_row_and_column(space, table):
    table.loc[7, "s3_width"] = 17
    with pytest.raises(TableError) as info:
        validate_table(table, space, where="t.csv")
    assert "row 8, column 's3_width': value 17" in str(info.value)
    assert "integers 16..64 step 16" in str(info.value)


def test_unknown_suffix_and_missing_file(tmp_path, table):
    with pytest.raises(TableError, match="allowed suffixes"):
        write_table(table, tmp_path / "t.xlsx")
    with pytest.raises(TableError, match="not found"):
        read_table(tmp_path / "absent.csv")


def test_failed_write_leaves_old_file(tmp_path, table):
    path = tmp_path / "t.parquet"
    write_table(table, path)
    bad = table.assign(acc=[object()] * len(table))  # parquet cannot store arbitrary objects
    with pytest.raises(Exception):  # noqa: B017 (pyarrow raises one of several types)
        write_table(bad, path)
    pd.testing.assert_frame_equal(read_table(path), table)
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_epoch_columns_sorted_numerically():
    frame = pd.DataFrame(columns=["acc_e10", "acc_e2", "acc", "acc_e1", "x_acc_e3"])
    assert epoch_columns(frame) == ["acc_e1", "acc_e2", "acc_e10"]


def test_usable_rows(table):
    table.loc[0, "acc"] = np.nan
    mask = usable_rows(table, "acc")
    assert mask.sum() == 17 and not mask[0] and not mask[-1]
