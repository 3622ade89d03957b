"""Behaviour of training recipes, the trainer, model files and ``search evaluate`` (CPU, tiny)."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import CONFIGS
from PIL import Image
from torch.utils.data import TensorDataset

from jointnas.cli_base import run_cli
from jointnas.data import ModelSpec, read_space, write_yaml
from jointnas.data.datasets import DatasetBundle, load_dataset
from jointnas.errors import ConfigError, DatasetError, SpaceError
from jointnas.recipes import (
    TrainingPruned,
    TrainingRecipe,
    build_model,
    load_model,
    save_model,
    train_and_evaluate,
)
from jointnas.recipes.recipe import build_optimizer, build_scheduler, param_groups
from jointnas.search.cli.evaluate import EVALUATE

SPACE = read_space(CONFIGS / "digits.yaml")
TINY_ARCH = {
    "stem_width": 8,
    "activation": "relu",
    "s1_width": 8,
    "s1_depth": 1,
    "s1_kernel": 3,
    "s1_expand": 1,
    "s1_se": False,
    "s2_width": 16,
    "s2_depth": 1,
    "s2_kernel": 3,
    "s2_expand": 1,
    "s2_se": False,
    "s3_width": 16,
    "s3_depth": 1,
    "s3_kernel": 3,
    "s3_expand": 1,
    "s3_se": False,
}
FAST = {"lr": 0.05, "epochs": 3, "batch_size": 32, "warmup_epochs": 0}


@pytest.fixture(scope="module")
def digits() -> DatasetBundle:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def small(digits) -> DatasetBundle:
    """Digits cut to 256 training and 128 validation / test samples."""
    cut = lambda ds, n: TensorDataset(*(t[:n] for t in ds.tensors))  # noqa: E731
    return DatasetBundle(
        "digits-small", cut(digits.train, 256), cut(digits.val, 128), cut(digits.test, 128), 10, (1, 8, 8)
    )


def train(small, **recipe):
    return train_and_evaluate(TINY_ARCH, {**FAST, **recipe}, small, device="cpu", num_threads=1)


def accuracy(model, split) -> float:
    x, y = split.tensors
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


# -- recipe ------------------------------------------------------------------------------
def test_recipe_from_config_defaults_and_errors():
    recipe = TrainingRecipe.from_config({"optimizer": "adamw", "lr": 0.01})
    assert recipe.optimizer == "adamw" and recipe.epochs == TrainingRecipe().epochs
    with pytest.raises(ConfigError, match="allowed: .*nesterov"):
        TrainingRecipe.from_config({"lr": 0.1, "learning_rate": 0.1})
    with pytest.raises(ConfigError, match="'lr'"):
        TrainingRecipe(lr=0.0)
    with pytest.raises(ConfigError, match="sgd, adamw, rmsprop"):
        TrainingRecipe(optimizer="adam")
    with pytest.raises(ConfigError, match="cosine, step, constant"):
        TrainingRecipe(schedule="poly")
    with pytest.raises(ConfigError, match="warmup_epochs"):
        TrainingRecipe(epochs=2, warmup_epochs=2)


def test_no_weight_decay_on_norm_and_bias():
    model = build_model(TINY_ARCH, 10, (1, 8, 8))
    decay, no_decay = param_groups(model, 1e-3)
    assert decay["weight_decay"] == 1e-3 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim == 1 for p in no_decay["params"])
    norms = [m.weight for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(any(p is w for p in no_decay["params"]) for w in norms)


@pytest.mark.parametrize("schedule", ["cosine", "step", "constant"])
def test_schedule_warms_up_then_decays_per_iteration(schedule):
    recipe = TrainingRecipe(lr=1.0, epochs=4, warmup_epochs=1, schedule=schedule)
    opt = build_optimizer(torch.nn.Linear(2, 2), recipe)
    sched = build_scheduler(opt, recipe, steps_per_epoch=5)
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1) and lrs[5] == pytest.approx(1.0)
    assert lrs[:6] == sorted(lrs[:6])
    assert (lrs[-1] < 0.1) == (schedule != "constant")


# -- trainer -----------------------------------------------------------------------------
def test_curve_length_equals_epochs_and_result_fields(small):
    r = train(small)
    assert r.status == "ok" and r.message == "" and r.epochs_run == 3 and len(r.curve) == 3
    assert r.val_acc == r.curve[-1] and 0.0 <= r.test_acc <= 1.0
    assert r.params > 0 and r.flops > 0 and r.seconds > 0
    assert r.threads == 1  # recorded: one seed gives other floats on other thread counts


def test_max_epochs_truncates_but_keeps_the_schedule(small):
    full = train(small, epochs=3)
    cut = train_and_evaluate(
        TINY_ARCH, {**FAST, "epochs": 3}, small, device="cpu", num_threads=1, max_epochs=2
    )
    assert cut.epochs_run == 2 and cut.curve == full.curve[:2]


@pytest.mark.parametrize("extra", [{"dropout": 0.2}, {"mixup_alpha": 0.3, "ema_decay": 0.9}])
def test_same_seed_same_curve_and_global_rng_untouched(small, extra):
    state = torch.random.get_rng_state()
    a, b = train(small, **extra), train(small, **extra)
    assert a.curve == b.curve and a.test_acc == b.test_acc
    assert torch.equal(torch.random.get_rng_state(), state)
    other = train_and_evaluate(TINY_ARCH, {**FAST, **extra}, small, device="cpu", num_threads=1, seed=1)
    assert other.curve != a.curve


def test_huge_learning_rate_diverges_without_raising(small):
    r = train(small, lr=1000.0, momentum=0.9)
    assert r.status == "diverged" and "NaN" in r.message
    assert r.epochs_run == len(r.curve) < 3 and r.val_acc <= 0.3


def test_error_inside_training_is_reported_as_failed(small):
    x, y = small.train.tensors
    broken = DatasetBundle("broken", TensorDataset(x, y + 10), small.val, small.test, 10, (1, 8, 8))
    r = train_and_evaluate(TINY_ARCH, FAST, broken, device="cpu", num_threads=1)
    assert r.status == "failed" and "epoch 1" in r.message and r.curve == []
    assert math.isnan(r.val_acc) and math.isnan(r.test_acc)


@pytest.mark.parametrize(
    "extra",
    [
        {"ema_decay": 0.9},
        {"mixup_alpha": 0.2},
        {
            "ema_decay": 0.99,
            "mixup_alpha": 0.4,
            "label_smoothing": 0.1,
            "optimizer": "adamw",
            "lr": 3e-3,
            "schedule": "step",
        },
    ],
)
def test_ema_and_mixup_run_and_the_evaluated_model_is_returned(small, extra):
    r = train_and_evaluate(TINY_ARCH, {**FAST, **extra}, small, device="cpu", num_threads=1, keep_model=True)
    assert r.status == "ok" and len(r.curve) == 3
    assert not isinstance(r.model, torch.optim.swa_utils.AveragedModel)
    assert accuracy(r.model, small.val) == pytest.approx(r.val_acc)


@pytest.mark.parametrize("how", ["return", "raise"])
def test_on_epoch_sees_each_epoch_and_can_stop(small, how):
    seen = []

    def on_epoch(epoch, acc):
        seen.append((epoch, acc))
        if how == "raise":
            raise TrainingPruned("low")
        return True

    r = train_and_evaluate(TINY_ARCH, FAST, small, device="cpu", num_threads=1, on_epoch=on_epoch)
    assert r.status == "ok" and r.epochs_run == 1 and seen == [(1, r.curve[0])]
    assert "stopped after epoch 1" in r.message


def test_other_callback_errors_propagate(small):
    def on_epoch(epoch, acc):
        raise KeyError("caller bug")

    with pytest.raises(KeyError, match="caller bug"):
        train_and_evaluate(TINY_ARCH, FAST, small, device="cpu", num_threads=1, on_epoch=on_epoch)


def test_default_pair_learns_digits_in_a_few_epochs(digits):
    arch, recipe = SPACE.split(SPACE.default)
    r = train_and_evaluate(arch, recipe, digits, device="cpu", num_threads=1, max_epochs=5, space=SPACE)
    assert r.status == "ok" and max(r.curve) >= 0.9 and r.test_acc >= 0.9


def test_imagefolder_trains_through_a_dataloader(tmp_path):
    for split in ("train", "val"):
        for label, color in (("dark", 20), ("light", 230)):
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for i in range(4):
                Image.new("RGB", (8, 8), (color, color - i, color)).save(folder / f"{i}.png")
    bundle = load_dataset("imagefolder", root=tmp_path)
    r = train_and_evaluate(
        TINY_ARCH, {**FAST, "epochs": 2, "batch_size": 4}, bundle, device="cpu", num_threads=1, num_workers=0
    )
    assert r.status == "ok" and len(r.curve) == 2 and math.isnan(r.test_acc)


def test_user_errors_raise_before_training(small):
    with pytest.raises(ConfigError, match="'lr'"):
        train(small, lr=-0.1)
    with pytest.raises(ConfigError, match="sgd, adamw, rmsprop"):
        train(small, optimizer="lamb")
    with pytest.raises(ConfigError, match="cosine, step, constant"):
        train(small, schedule="poly")
    with pytest.raises(SpaceError, match="stem_width"):  # 12 is not on the space's grid
        train_and_evaluate({**TINY_ARCH, "stem_width": 12}, FAST, small, space=SPACE)
    with pytest.raises(SpaceError, match="lr"):  # outside the space's lr range
        train_and_evaluate(TINY_ARCH, {**SPACE.split(SPACE.default)[1], "lr": 5.0}, small, space=SPACE)
    with pytest.raises(DatasetError, match="channel"):
        train_and_evaluate(TINY_ARCH, FAST, small, model_spec=ModelSpec("mbconv", (3, 8, 8), 10))
    with pytest.raises(ConfigError, match="device"):
        train_and_evaluate(TINY_ARCH, FAST, small, device="tpu9")


def test_save_load_round_trip_gives_identical_outputs(small, tmp_path):
    r = train_and_evaluate(
        TINY_ARCH, {**FAST, "epochs": 1}, small, device="cpu", num_threads=1, keep_model=True
    )
    path = tmp_path / "model.pt"
    save_model(
        path,
        r.model,
        TINY_ARCH,
        {**FAST, "epochs": 1},
        {"in_shape": (1, 8, 8), "num_classes": 10, "val_acc": r.val_acc},
    )
    model, info = load_model(path)
    x = small.val.tensors[0]
    r.model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), r.model(x))
    assert info["arch"] == TINY_ARCH and info["recipe"]["epochs"] == 1
    assert info["meta"]["val_acc"] == r.val_acc
    with pytest.raises(ConfigError, match="not found"):
        load_model(tmp_path / "missing.pt")


# -- search evaluate ----------------------------------------------------------------------
def test_evaluate_cli_prints_curve_and_scores(tmp_path, capsys):
    model_file = tmp_path / "m.pt"
    argv = [
        "evaluate",
        "--space",
        str(CONFIGS / "digits.yaml"),
        "--default",
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--save",
        str(model_file),
    ]
    assert run_cli("search", "test", [EVALUATE], argv) == 0
    out = capsys.readouterr().out
    for word in ("val_acc", "test_acc", "flops", "params", "seconds", "status    ok"):
        assert word in out
    assert "    2  " in out and model_file.is_file()
    assert load_model(model_file)[1]["meta"]["dataset"] == "digits"


def test_evaluate_cli_bad_pair_exits_2_with_one_error_line(tmp_path, capsys):
    pair = dict(SPACE.default, s1_kernel=4)
    write_yaml(pair, tmp_path / "pair.yaml")
    argv = ["evaluate", "--space", str(CONFIGS / "digits.yaml"), "--pair", str(tmp_path / "pair.yaml")]
    assert run_cli("search", "test", [EVALUATE], argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "s1_kernel" in err[0]
    assert "pair.yaml" in err[0]


def _edited_space(tmp_path, old: str, new: str):
    """configs/digits.yaml with one text edit, written to tmp_path."""
    path = tmp_path / "space.yaml"
    text = (CONFIGS / "digits.yaml").read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_evaluate_cli_without_cuda_fails_before_any_progress(capsys):
    argv = [
        "evaluate",
        "--space",
        str(CONFIGS / "digits.yaml"),
        "--default",
        "--epochs",
        "1",
        "--device",
        "cuda",
    ]
    assert run_cli("search", "test", [EVALUATE], argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: device 'cuda' requested but CUDA"), err


@pytest.mark.parametrize("quiet", [False, True])
def test_evaluate_cli_shows_its_bar_on_a_terminal_unless_quiet(monkeypatch, capsys, quiet):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    argv = [
        "evaluate",
        "--space",
        str(CONFIGS / "mnist1d.yaml"),
        "--default",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--threads",
        "1",  # the dataset: mnist1d, which fits the space
        *(["--quiet"] if quiet else []),
    ]
    assert run_cli("search", "test", [EVALUATE], argv) == 0
    assert ("training default" in err.getvalue()) is not quiet
    printed = capsys.readouterr().out
    assert "threads   1" in printed and "on mnist1d (seed 0)" in printed


@pytest.mark.parametrize(
    "old, new, fragments",
    [
        (
            "choices: [sgd, adamw, rmsprop]",
            "choices: [sgd, adam]",
            ["recipe variable 'optimizer': choice 'adam' not allowed (allowed: sgd, adamw, rmsprop)"],
        ),
        (
            "builder: mbconv",
            "builder: mbconvv",
            [
                "model.builder='mbconvv' is not a known builder (builders: depth_supernet, "
                "layer_supernet, mbconv); did you mean 'mbconv'?"
            ],
        ),
    ],
)
def test_a_space_training_cannot_use_fails_before_any_training(tmp_path, capsys, old, new, fragments):
    from jointnas.search.evaluators import TrainEvaluator

    path = _edited_space(tmp_path, old, new)
    argv = ["evaluate", "--space", str(path), "--default", "--epochs", "1", "--device", "cpu"]
    assert run_cli("search", "test", [EVALUATE], argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and str(path) in err, err
    assert all(f in err for f in fragments), err
    with pytest.raises((ConfigError, SpaceError), match=str(path)):  # what coarse search checks
        TrainEvaluator(read_space(path), "digits", device="cpu").check()


def test_ema_decay_warms_up_then_reaches_the_recipe_value():
    import torch
    from torch import nn

    from jointnas.recipes.recipe import build_ema

    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    ema = build_ema(model, TrainingRecipe(ema_decay=0.99))
    ema.update_parameters(model)  # first update copies the weights
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update_parameters(model)  # n = 1: decay (1 + 1) / (10 + 1)
    assert ema.module.weight.item() == pytest.approx(1 - 2 / 11)
    for _ in range(2000):
        ema.update_parameters(model)
    with torch.no_grad():
        model.weight.fill_(2.0)
    before = ema.module.weight.item()
    ema.update_parameters(model)  # long after warmup: the recipe's 0.99
    assert ema.module.weight.item() == pytest.approx(before + (2.0 - before) * 0.01)


# -- 1D pairs on MNIST-1D ----------------------------------------------------------------
SPACE_1D = read_space(CONFIGS / "mnist1d.yaml")


@pytest.fixture(scope="module")
def mnist1d_small(tmp_path_factory) -> DatasetBundle:
    import os

    previous = os.environ.get("JOINTNAS_CACHE")
    os.environ["JOINTNAS_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        return load_dataset("mnist1d", options={"num_samples": 1500, "val_size": 300, "test_size": 300})
    finally:
        if previous is None:
            os.environ.pop("JOINTNAS_CACHE")
        else:
            os.environ["JOINTNAS_CACHE"] = previous


def test_1d_default_pair_learns_mnist1d_well_above_chance(mnist1d_small):
    arch, recipe = SPACE_1D.split(SPACE_1D.default)
    result = train_and_evaluate(
        arch,
        dict(recipe, epochs=4, mixup_alpha=0.2, ema_decay=0.9),
        mnist1d_small,
        device="cpu",
        seed=0,
        model_spec=SPACE_1D.model,
        num_threads=1,
    )
    assert result.status == "ok" and len(result.curve) == 4
    assert result.val_acc > 0.4 and result.test_acc > 0.4  # chance is 0.1
    assert result.flops > 0 and result.params > 0


def test_1d_space_with_2d_dataset_and_the_reverse_name_both_shapes(mnist1d_small, digits):
    arch, recipe = SPACE_1D.split(SPACE_1D.default)
    with pytest.raises(DatasetError, match=r"sequences.*\[1, 40\].*'digits'.*images.*\[1, 8, 8\]"):
        train_and_evaluate(arch, recipe, digits, device="cpu", space=SPACE_1D, max_epochs=1)
    arch2d, recipe2d = SPACE.split(SPACE.default)
    with pytest.raises(DatasetError, match=r"images.*\[1, 8, 8\].*'mnist1d'.*sequences.*\[1, 40\]"):
        train_and_evaluate(arch2d, recipe2d, mnist1d_small, device="cpu", space=SPACE, max_epochs=1)


def test_evaluate_cli_with_a_2d_dataset_for_a_1d_space_exits_2(capsys):
    argv = [
        "evaluate",
        "--space",
        str(CONFIGS / "mnist1d.yaml"),
        "--default",
        "--epochs",
        "1",
        "--dataset",
        "digits",
        "--device",
        "cpu",
    ]
    assert run_cli("search", "test", [EVALUATE], argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "[1, 40]" in err[0] and "[1, 8, 8]" in err[0]
