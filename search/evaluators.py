"""Evaluators turn a pair into measured accuracy: by training it, or by looking it up.

Every evaluator has ``evaluate(config, max_epochs=None, on_epoch=None) -> EvalResult``
and ``full_epochs(config)`` (the length of the pair's own schedule, ``None`` when the
evaluator has no learning curves).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol

import numpy as np
import pandas as pd

from ..data.space import Config, SearchSpace
from ..data.tables import epoch_columns, validate_table
from ..errors import SearchError
from .candidates import row_keys

OnEpoch = Callable[[int, float], Any]


@dataclass
class EvalResult:
    """One evaluation: the validation curve and final metrics.

    ``val_acc`` is the accuracy the search optimizes: the last point of ``curve`` when
    there is one.
    """

    curve: list[float]
    val_acc: float
    test_acc: float = math.nan
    flops: float = math.nan
    params: float = math.nan
    seconds: float = 0.0
    epochs_run: int = 0
    status: str = "ok"
    message: str = ""
    threads: int | None = None  # torch CPU threads of a training run (None: not trained here)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for storage)."""
        return asdict(self)


class Evaluator(Protocol):
    """What coarse search and the strategies need from an evaluator."""

    def evaluate(
        self, config: Config, max_epochs: int | None = None, on_epoch: OnEpoch | None = None
    ) -> EvalResult: ...

    def full_epochs(self, config: Config) -> int | None: ...

    def check(self) -> None:
        """Raise a clear error now for what would fail every pair (e.g. a wrong dataset)."""
        ...


class TrainEvaluator:
    """Train each pair with :func:`jointnas.recipes.train.train_and_evaluate`.

    Args:
        space: a space with a model spec.
        dataset: dataset name (``digits``, ``mnist1d``, ...) or a loaded bundle.
        root: dataset root folder for torchvision datasets.
        device: ``auto``, ``cpu`` or ``cuda``.
        seed: training seed (same seed, same device: same curve).
        num_threads: CPU threads per training run.
        dataset_options: options of the dataset (``mnist1d``: sample count, split sizes).
    """

    def __init__(
        self,
        space: SearchSpace,
        dataset: Any = "digits",
        root: str | None = None,
        device: str = "auto",
        seed: int = 0,
        num_threads: int | None = None,
        dataset_options: dict[str, Any] | None = None,
    ) -> None:
        if space.model is None:
            raise SearchError(
                f"space '{space.name}' has no model: the train evaluator needs one "
                "(use the table evaluator for tabular spaces)"
            )
        self.space, self.dataset, self.root = space, dataset, root
        self.device, self.seed, self.num_threads = device, seed, num_threads
        self.dataset_options = dataset_options
        self._bundle = None

    def bundle(self):
        """The dataset, loaded once."""
        if self._bundle is None:
            self._bundle = _load(self.dataset, self.root, self.dataset_options)
        return self._bundle

    def check(self) -> None:
        """Check the space (builder, recipe choices), then the dataset, before any training.

        Raises:
            SpaceError, ConfigError: see :func:`jointnas.recipes.train.check_space` (an
                unknown builder or optimizer, naming the space's file).
            DatasetError: an unknown dataset, bad dataset options, or a dataset of another
                kind (images for a 1D space, ...) than the space's model.
        """
        from ..recipes.train import check_space

        check_space(self.space)
        _check_dataset(self.space, self.bundle())

    def full_epochs(self, config: Config) -> int | None:
        return int(config["epochs"]) if "epochs" in config else None

    def evaluate(
        self, config: Config, max_epochs: int | None = None, on_epoch: OnEpoch | None = None
    ) -> EvalResult:
        from ..recipes.train import train_and_evaluate

        arch, recipe = self.space.split(config)
        r = train_and_evaluate(
            arch,
            recipe,
            self.bundle(),
            device=self.device,
            seed=self.seed,
            max_epochs=max_epochs,
            on_epoch=on_epoch,
            model_spec=self.space.model,
            num_threads=self.num_threads,
        )
        return EvalResult(
            curve=list(r.curve),
            val_acc=r.val_acc,
            test_acc=r.test_acc,
            flops=r.flops,
            params=r.params,
            seconds=r.seconds,
            epochs_run=r.epochs_run,
            status=r.status,
            message=r.message,
            threads=r.threads,
        )


class TableEvaluator:
    """Look pairs up in a measured table (benchmarks and replays).

    Args:
        space: the space the table's variable columns fit.
        table: the measured table.
        target: accuracy column (default: ``val_acc``, ``valid_acc`` or ``acc``, the
            first present).
        where: the table's file name, for errors.
        sleep: seconds to wait per evaluation (to simulate training in tests).

    Per-epoch columns ``acc_e1 .. acc_eK`` give learning curves (for early stopping);
    ``test_acc``/``test``, ``seconds``, ``status`` and cost columns are passed through.

    Raises:
        TableError: missing columns or values outside the space.
    """

    TARGETS = ("val_acc", "valid_acc", "acc")

    def __init__(
        self,
        space: SearchSpace,
        table: pd.DataFrame,
        target: str | None = None,
        where: str | None = None,
        sleep: float = 0.0,
    ) -> None:
        if target is None:
            target = next((t for t in self.TARGETS if t in table.columns), self.TARGETS[0])
        validate_table(table, space, where=where, require=(target,))
        self.space, self.target, self.where, self.sleep = space, target, where, sleep
        self.table = table.reset_index(drop=True)
        keys = row_keys(space, self.table)
        self._rows = {int(k): i for i, k in enumerate(keys)}
        self.epoch_cols = epoch_columns(self.table)

    def pool(self) -> pd.DataFrame:
        """All pairs of the table, with every column (costs included)."""
        return self.table

    def check(self) -> None:
        """Nothing to load: the table was validated against the space when given."""

    def full_epochs(self, config: Config) -> int | None:
        if not self.epoch_cols:
            return None
        row = self.table.iloc[self.row(config)]
        return int(np.isfinite(row[self.epoch_cols].to_numpy(dtype=float)).sum())

    def row(self, config: Config) -> int:
        """Row index of a pair.

        Raises:
            SearchError: the pair is not in the table.
        """
        key = int(row_keys(self.space, self.space.frame([config]))[0])
        if key not in self._rows:
            raise SearchError(f"pair not in the table: {config}", self.where)
        return self._rows[key]

    def evaluate(
        self, config: Config, max_epochs: int | None = None, on_epoch: OnEpoch | None = None
    ) -> EvalResult:
        row = self.table.iloc[self.row(config)]
        if self.sleep:
            time.sleep(self.sleep)
        curve = [float(v) for v in row[self.epoch_cols].to_numpy(dtype=float) if np.isfinite(v)]
        full = len(curve)
        if max_epochs is not None:
            curve = curve[:max_epochs]
        for epoch, acc in enumerate(curve, start=1):
            if on_epoch is not None:
                on_epoch(epoch, acc)
        val = curve[-1] if curve and len(curve) < full else float(row[self.target])
        seconds = float(row.get("seconds", 0.0) or 0.0)
        if full and curve:
            seconds *= len(curve) / full
        status = str(row.get("status", "ok"))
        return EvalResult(
            curve=curve,
            val_acc=val,
            test_acc=float(row.get("test_acc", row.get("test", math.nan))),
            flops=float(row.get("flops", math.nan)),
            params=float(row.get("params", math.nan)),
            seconds=seconds,
            epochs_run=len(curve),
            status=status if status != "nan" else "ok",
        )


def _check_dataset(space: SearchSpace, bundle: Any) -> None:
    from ..recipes.train import check_data

    check_data(space.model, bundle)


def _load(dataset: Any, root: str | None, options: dict[str, Any] | None) -> Any:
    """A dataset bundle from a name (loaded with ``root`` and ``options``) or the bundle itself."""
    if not isinstance(dataset, str):
        return dataset
    from ..data.datasets import load_dataset

    return load_dataset(dataset, root=root, options=options)


def make_evaluator(space: SearchSpace, spec: dict[str, Any]) -> TrainEvaluator | TableEvaluator:
    """Build an evaluator from its settings (``{type: train|table|supernet, ...}``).

    Raises:
        SearchError: the space cannot be trained; TableError: a bad table.
    """
    spec = dict(spec)
    kind = spec.pop("type")
    if kind == "table":
        from ..data.tables import read_table

        path = spec.pop("table")
        return TableEvaluator(space, read_table(path), where=str(path), **spec)
    if kind == "supernet":
        return SupernetEvaluator(space, **spec)
    return TrainEvaluator(space, **spec)


class SupernetEvaluator:
    """Score pairs by the accuracy their architecture reaches with weights inherited from a supernet.

    A cheap proxy for coarse search and the strategies: the supernet of the space's arch
    part is trained once, lazily at the first evaluation, or loaded from ``checkpoint``;
    each evaluation then scores one path on the validation split (cached per
    architecture). The recipe part of a pair does not change its score: a supernet
    trains with one recipe. The result's curve has one point and ``seconds`` is the
    scoring time; the one-off training time is in ``extra["train_seconds"]`` of the
    evaluation that triggered it.

    Args:
        space: a space whose ``model.builder`` is ``depth_supernet`` or ``layer_supernet``.
        dataset: dataset name (``digits``, ...) or a loaded bundle.
        root: dataset root folder for torchvision datasets.
        device: ``auto``, ``cpu`` or ``cuda``.
        seed: seed of the supernet's weights, batch order and path sampler.
        epochs: supernet training epochs.
        sampler: path sampler name (``uniform``, ``epsilon_greedy``, ``fair``).
        recalibrate_bn: batch-norm recalibration batches before scoring a path.
        checkpoint: a supernet file: loaded when it exists, else written after training.
        num_threads: CPU threads for the training.

    Raises:
        SupernetError: a space the supernet cannot express.
        ConfigError: an unknown sampler.

    Example:
        >>> ev = SupernetEvaluator(read_space("configs/supernet_digits.yaml"), epochs=5)  # doctest: +SKIP
        >>> ev.evaluate({"b1_depth": 2, "b2_depth": 3}).val_acc  # doctest: +SKIP
        0.93...
    """

    def __init__(
        self,
        space: SearchSpace,
        dataset: Any = "digits",
        root: str | None = None,
        device: str = "auto",
        seed: int = 0,
        epochs: int = 10,
        sampler: str = "uniform",
        recalibrate_bn: int = 4,
        checkpoint: str | None = None,
        num_threads: int | None = None,
        dataset_options: dict[str, Any] | None = None,
    ) -> None:
        from ..recipes.supernet.decode import supernet_spec
        from ..recipes.supernet.samplers import create_sampler

        self.space = space
        self.arch_space = SearchSpace(space.arch, name=space.name, model=space.model, source=space.source)
        self.spec = supernet_spec(self.arch_space)
        create_sampler(sampler, self.spec.num_choices)  # an unknown name fails now
        self.dataset, self.root, self.device, self.seed = dataset, root, device, seed
        self.epochs, self.sampler, self.recalibrate_bn = epochs, sampler, recalibrate_bn
        self.checkpoint, self.num_threads = checkpoint, num_threads
        self.dataset_options = dataset_options
        self.train_seconds_: float | None = None
        self._supernet = None
        self._bundle = None
        self._cache: dict[tuple[int, ...], float] = {}

    def bundle(self):
        """The dataset, loaded once."""
        if self._bundle is None:
            self._bundle = _load(self.dataset, self.root, self.dataset_options)
        return self._bundle

    def supernet(self):
        """The trained supernet: loaded from ``checkpoint`` if it exists, else trained now."""
        if self._supernet is None:
            import os

            from ..recipes.supernet.model import Supernet, load_supernet, save_supernet
            from ..recipes.supernet.training import train_supernet

            if self.checkpoint and os.path.exists(self.checkpoint):
                self._supernet, meta = load_supernet(self.checkpoint, self.arch_space)
                self.train_seconds_ = 0.0
            else:
                net = Supernet(self.spec, seed=self.seed)
                result = train_supernet(
                    net,
                    self.bundle(),
                    self.sampler,
                    epochs=self.epochs,
                    seed=self.seed,
                    device=self.device,
                    num_threads=self.num_threads,
                )
                self.train_seconds_ = result.seconds
                if self.checkpoint:
                    save_supernet(
                        self.checkpoint,
                        net,
                        self.arch_space,
                        {
                            "epochs": self.epochs,
                            "sampler": self.sampler,
                            "seed": self.seed,
                            "status": result.status,
                        },
                    )
                self._supernet = net
        return self._supernet

    def check(self) -> None:
        """Load the dataset and check that it fits the supernet's input shape and classes."""
        _check_dataset(self.space, self.bundle())

    def full_epochs(self, config: Config) -> int | None:
        return None

    def evaluate(
        self, config: Config, max_epochs: int | None = None, on_epoch: OnEpoch | None = None
    ) -> EvalResult:
        from ..recipes.supernet.training import evaluate_paths

        path = self.spec.path({n: config[n] for n in self.arch_space.arch_names if n in config})
        fresh = self._supernet is None
        net = self.supernet()
        start = time.perf_counter()
        if path not in self._cache:
            self._cache[path] = evaluate_paths(
                net, [path], self.bundle(), recalibrate_bn=self.recalibrate_bn, seed=self.seed
            )[0]
        acc = self._cache[path]
        if on_epoch is not None:
            on_epoch(1, acc)
        flops, params = self.spec.costs(path, self.space.model.in_shape)
        extra = {"proxy": "supernet", "train_seconds": self.train_seconds_ if fresh else 0.0}
        return EvalResult(
            curve=[acc],
            val_acc=acc,
            flops=float(flops),
            params=float(params),
            seconds=time.perf_counter() - start,
            epochs_run=1,
            extra=extra,
        )
