"""Command-line error policy: one line, exit 2, traceback only with --debug."""

from __future__ import annotations

import signal
import subprocess
import sys

import pandas as pd
import pytest
from conftest import CONFIGS

from jointnas.cli_base import DEVICE_DEFAULT, build_parser
from jointnas.predictor.cli import main as predictor_main
from jointnas.search.cli import commands
from jointnas.search.cli import main as search_main


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
    proc = subprocess.run(
        [sys.executable, "-m", "jointnas.search.cli", "sample", "--space", str(path), "--debug"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "jointnas.search.cli", "sample", "--space", str(path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "malformed YAML" in proc.stderr


def test_usage_error_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        search_main(["sample", "--space", str(CONFIGS / "digits.yaml"), "--n", "0"])
    assert info.value.code == 2


# -- usage errors, shared flags and --help ---------------------------------------------------
@pytest.mark.parametrize(
    "main, argv, usage",
    [
        (
            search_main,
            ["sample", "--space", str(CONFIGS / "digits.yaml"), "--num", "5"],
            "usage: search sample [-h] [--debug] --space SPACE",
        ),
        (
            predictor_main,
            ["evaluate", "--predictor", "p.pt", "--table", "t.csv", "--num", "5"],
            "usage: predictor evaluate [-h] [--debug] --predictor PREDICTOR",
        ),
    ],
)
def test_unknown_flag_shows_the_subcommand_usage(capsys, main, argv, usage):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith(usage), err
    assert "error: unrecognized arguments: --num 5" in err and "COMMAND" not in err


def _help(main, command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())  # unwrapped


@pytest.mark.parametrize("command", ["evaluate", "ensemble", "supernet", "enas"])
def test_every_training_command_defaults_to_the_same_device(command, capsys):
    extra = ["--default"] if command == "evaluate" else []
    args = build_parser("search", "", commands()).parse_args([command, "--space", "s.yaml", *extra])
    assert args.device == DEVICE_DEFAULT == "auto"
    assert f"(default: {DEVICE_DEFAULT})" in _help(search_main, command, capsys)


def test_ensemble_help_shows_one_spelling_and_the_old_ones_still_work(capsys):
    text = _help(search_main, "ensemble", capsys)
    assert "--size" in text and "--candidates" in text
    assert "--n " not in text and "--N " not in text
    parser = build_parser("search", "", commands())
    old = parser.parse_args(["ensemble", "--space", "c.yaml", "--n", "2", "--N", "3"])
    new = parser.parse_args(["ensemble", "--space", "c.yaml", "--size", "2", "--candidates", "3"])
    assert (old.n, old.N) == (new.n, new.N) == (2, 3)


def test_help_shows_defaults_and_explains_metric_names(capsys):
    from jointnas.predictor.cli import _DEFAULTS
    from jointnas.predictor.estimator import AccuracyPredictor

    defaults = {k: v for k, v in AccuracyPredictor(None).get_params().items() if k in _DEFAULTS}
    assert defaults == _DEFAULTS  # what --help says is what the estimator does
    text = _help(predictor_main, "pretrain", capsys)
    assert "pretraining epochs (default: 30)" in text and "random seed (default: 0)" in text
    assert "(default: the encoder file's, else 5)" in _help(predictor_main, "train", capsys)
    assert "--seed SEED Sobol scramble seed (default: 0)" in _help(search_main, "sample", capsys)
    text = _help(predictor_main, "evaluate", capsys)
    assert "top_n_rank: TnR: the best true rank" in text and "n_top: how many" in text
    text = _help(search_main, "supernet", capsys)
    assert "t1r: TnR for n = 1" in text and "t3r: TnR for n = 3" in text


def test_pair_and_default_are_exclusive(capsys):
    with pytest.raises(SystemExit) as info:
        search_main(["evaluate", "--space", "s.yaml", "--pair", "p.yaml", "--default"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "(--pair PAIR | --default)" in " ".join(err.split())
    assert "not allowed with argument" in err


def test_sample_draws_until_n_pairs_are_feasible(tmp_path, capsys):
    from jointnas.data import read_space, read_table
    from jointnas.search.pool import draw_feasible, draw_pool

    argv = ["sample", "--space", str(CONFIGS / "digits.yaml"), "--n", "16", "--max-flops", "5e5"]
    assert search_main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("digits-mbconv: 16 pairs within {'flops': 500000.0}, 64 drawn")
    assert search_main([*argv, "--out", str(tmp_path / "pool.csv")]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 2 and out.endswith(f"wrote {tmp_path / 'pool.csv'}\n")
    pool = read_table(tmp_path / "pool.csv")
    assert len(pool) == 16 and (pool["flops"] <= 5e5).all()
    space = read_space(CONFIGS / "digits.yaml")
    rounds, drawn = draw_feasible(space, 16, seed=0, limits={"flops": 5e5})
    once = draw_pool(space, drawn, seed=0, limits={"flops": 5e5}).head(16)
    pd.testing.assert_frame_equal(rounds, once)  # the first 16 feasible pairs of one sequence


def test_sample_says_when_fewer_pairs_are_feasible_than_asked(capsys):
    argv = [
        "sample",
        "--space",
        str(CONFIGS / "digits.yaml"),
        "--n",
        "16",
        "--max-flops",
        "1.5e5",
        "--max-draws",
        "200",
    ]
    assert search_main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("digits-mbconv: 8 pairs within {'flops': 150000.0}, 200 drawn")
    assert captured.err == (
        "warning: only 8 of the 16 pairs asked for satisfy the constraints in "
        "200 draws: relax the limits or raise --max-draws\n"
    )


def test_dataset_defaults_to_the_embedded_one_that_fits_the_space():
    from jointnas.cli_base import dataset_for

    assert dataset_for(None, (1, 28, 28)) == "mnist5k"
    assert dataset_for(None, [1, 40]) == "mnist1d"
    assert dataset_for(None, (3, 32, 32)) == "digits"  # none fits: the old default
    assert dataset_for("mnist", (1, 28, 28)) == "mnist"  # a choice wins


def test_an_interrupt_caught_inside_exec_still_exits_130(tmp_path):
    """CPython ends a process by SIGINT when a KeyboardInterrupt passed through ``exec``
    of a string (as while namedtuples and dataclasses are built during imports), even
    though the command caught it; the interrupt handler must still exit with 130."""
    script = tmp_path / "interrupted_exec.py"
    script.write_text(
        "import os, signal, sys\n"
        "from jointnas.cli_base import _interrupted\n"
        "try:\n"
        '    exec("os.kill(os.getpid(), signal.SIGINT)\\nfor _ in range(10**6): pass")\n'
        "except KeyboardInterrupt:\n"
        "    sys.exit(_interrupted())\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", script.stem],  # as ``python -m``: a file run directly is spared
        cwd=tmp_path,
        capture_output=True,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert done.returncode == 130 and done.stderr == "interrupted\n", done.stderr
