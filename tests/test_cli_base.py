"""Command-line error policy: one line, exit 2, traceback only with --debug."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jointnas.search.cli import main as search_main

from conftest import CONFIGS


def test_search_help_lists_only_existing_commands(capsys):
    with pytest.raises(SystemExit) as info:
        search_main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "sample" in out


def test_bad_space_file_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("arch: [{name: a, type: int, low: 5, high: 1}]")
    assert search_main(["sample", "--space", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "low=5 > high=1" in err
    assert str(path) in err


def test_debug_shows_traceback(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("arch: [")
    proc = subprocess.run([sys.executable, "-m", "jointnas.search.cli", "sample", "--space", str(path),
                           "--debug"], capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "jointnas.search.cli", "sample", "--space", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "malformed YAML" in proc.stderr


def test_usage_error_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        search_main(["sample", "--space", str(CONFIGS / "digits.yaml"), "--n", "0"])
    assert info.value.code == 2
