"""ENAS (Pham et al. 2018): a REINFORCE controller and a weight-sharing supernet trained in turn.

Every epoch of :func:`enas_search`:

1. the supernet's shared weights train for one epoch over the training data, each step on
   one path the controller samples (:class:`ControllerSampler`, a path sampler of
   :func:`~jointnas.recipes.supernet.training.train_supernet`; one SGD optimizer and
   learning-rate schedule span the whole search);
2. the controller (:class:`~jointnas.search.strategies.reinforce.Reinforce`'s policy) takes
   ``controller_steps`` REINFORCE steps, each on ``samples`` sampled architectures
   rewarded with their validation accuracy under the shared weights
   (:func:`~jointnas.recipes.supernet.training.evaluate_paths`).

At the end the controller samples ``final_samples`` architectures; the one with the best
shared-weight validation accuracy is returned and, when ``retrain_epochs`` is set, trained
from scratch (:func:`~jointnas.recipes.train.train_and_evaluate` through the space's
standalone builder).

Example:
    >>> space = read_space("configs/supernet_layers.yaml")  # doctest: +SKIP
    >>> result = enas_search(space, "digits", epochs=5, retrain_epochs=10)  # doctest: +SKIP
    >>> result.best, result.standalone["val_acc"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ...data.space import Config, SearchSpace
from ...errors import ConfigError, SearchError
from ...recipes.supernet.samplers import Path, PathSampler
from ..candidates import CandidateSet
from ..strategies.reinforce import Reinforce

Progress = Callable[[str], None]
ENAS_CONTROLLER: dict[str, Any] = {"lr": 0.005, "entropy_weight": 0.05}
"""Controller settings under ENAS (gentler than the strategy's defaults: its rewards come from
a supernet still training, and a policy that settles early starves the other paths)."""


class ControllerSampler(PathSampler):
    """Path sampler that draws the supernet's training paths from a controller's policy.

    Paths are drawn ``chunk`` at a time; :meth:`refresh` drops the ones drawn from an
    older policy (call it after each controller update).

    Args:
        controller: the REINFORCE strategy whose policy is sampled.
        spec: the supernet's spec (maps arch configs to paths).
        chunk: paths drawn per policy forward pass.
    """

    name = "controller"

    def __init__(self, controller: Reinforce, spec: Any, chunk: int = 64) -> None:
        super().__init__(spec.num_choices, seed=controller.seed)
        self.controller, self.spec, self.chunk = controller, spec, chunk
        self._buffer: list[Path] = []

    def ask(self) -> list[Path]:
        if not self._buffer:
            configs = self.controller.space.configs(self.controller.sample(self.chunk))
            self._buffer = [self.spec.path(c) for c in configs][::-1]
        return [self._buffer.pop()]

    def refresh(self) -> None:
        """Forget paths drawn before the latest policy update."""
        self._buffer = []


@dataclass
class ENASResult:
    """What an ENAS search found.

    Attributes:
        best: the chosen architecture (arch config).
        shared_acc: its validation accuracy with the shared weights.
        candidates: the final samples: variables, ``shared_acc``, ``flops``, ``params``.
        history: one row per epoch: ``epoch``, ``loss`` (supernet), ``reward`` (mean
            shared-weight accuracy of the controller's samples), ``baseline``,
            ``best_prob`` (policy probability of the epoch's best sample), ``seconds``.
        search_seconds: wall time of the search (supernet, controller, final selection).
        standalone: the retrained architecture's ``val_acc``, ``test_acc``, ``seconds``,
            ``epochs`` and ``status``; ``None`` without retraining.
        settings: the arguments of the run.
        supernet: the trained supernet (for scoring more paths with its weights).
    """

    best: Config
    shared_acc: float
    candidates: pd.DataFrame
    history: pd.DataFrame
    search_seconds: float
    standalone: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    supernet: Any = field(default=None, repr=False, compare=False)


def enas_search(
    space: SearchSpace,
    dataset: Any = "digits",
    *,
    epochs: int = 10,
    controller_steps: int = 10,
    samples: int = 8,
    final_samples: int = 16,
    retrain_epochs: int = 0,
    recalibrate_bn: int = 4,
    recipe: Mapping[str, Any] | None = None,
    controller: Mapping[str, Any] | None = None,
    seed: int = 0,
    device: str = "cpu",
    progress: Progress | None = None,
) -> ENASResult:
    """Search a supernet space with ENAS.

    Args:
        space: a supernet space (``model.builder`` ``layer_supernet`` or ``depth_supernet``).
        dataset: a dataset name or a loaded bundle.
        epochs: supernet epochs (each followed by controller training).
        controller_steps: REINFORCE updates after each epoch.
        samples: architectures sampled per controller update.
        final_samples: architectures sampled at the end to pick the best from.
        retrain_epochs: train the chosen architecture from scratch for this many epochs
            (0: no retraining).
        recalibrate_bn: batch-norm recalibration batches before scoring each path.
        recipe: supernet (and retraining) recipe fields (default SGD, lr 0.05, cosine).
        controller: keyword arguments of :class:`~jointnas.search.strategies.reinforce.Reinforce`, over
            :data:`ENAS_CONTROLLER`.
        seed: seeds the supernet, the controller, the batch order and the retraining.
        device: ``cpu``, ``cuda`` or ``auto``.
        progress: called with a one-line message after each epoch.

    Returns:
        An :class:`ENASResult`.

    Raises:
        ConfigError: a count out of range or a bad recipe / controller setting;
            SupernetError: a space the supernet cannot express; SearchError: the supernet
            training diverged.
    """
    from ...data.datasets import load_dataset
    from ...recipes.supernet.model import Supernet
    from ...recipes.supernet.training import evaluate_paths, supernet_recipe, train_supernet

    for name, value, least in (
        ("epochs", epochs, 1),
        ("controller_steps", controller_steps, 1),
        ("samples", samples, 1),
        ("final_samples", final_samples, 1),
        ("retrain_epochs", retrain_epochs, 0),
        ("recalibrate_bn", recalibrate_bn, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"enas: {name}={value!r} must be an integer >= {least}")
    sn_recipe = supernet_recipe(recipe, epochs)
    net = Supernet.from_space(space, seed=seed)
    controller = {**ENAS_CONTROLLER, **dict(controller or {})}
    policy = Reinforce(CandidateSet(space, limits={}), seed=seed, **controller)
    sampler = ControllerSampler(policy, net.spec)
    bundle = load_dataset(dataset) if isinstance(dataset, str) else dataset
    say = progress or (lambda message: None)
    rows: list[dict[str, Any]] = []
    started = last = time.perf_counter()

    def score(configs: list[Config], calls: int) -> np.ndarray:
        return np.asarray(
            evaluate_paths(net, configs, bundle, recalibrate_bn=recalibrate_bn, seed=seed + calls),
            dtype=np.float64,
        )

    def on_epoch(epoch: int, loss: float) -> None:
        nonlocal last
        rewards, probs = [], []
        for step in range(controller_steps):
            configs = space.configs(policy.sample(samples))
            accs = score(configs, epoch * controller_steps + step)
            policy.learn(configs, accs)
            rewards.append(float(np.mean(accs)))
            probs.append(float(np.exp(policy.log_prob([configs[int(np.argmax(accs))]])[0])))
        sampler.refresh()
        now = time.perf_counter()
        rows.append(
            {
                "epoch": epoch,
                "loss": loss,
                "reward": float(np.mean(rewards)),
                "baseline": policy.baseline,
                "best_prob": probs[-1],
                "seconds": now - last,
            }
        )
        last = now
        say(
            f"epoch {epoch}/{epochs}: loss {loss:.3f}, controller reward {rows[-1]['reward']:.4f}, "
            f"{rows[-1]['seconds']:.1f} s this epoch, {now - started:.1f} s elapsed"
        )

    trained = train_supernet(
        net, bundle, sampler, recipe=sn_recipe, seed=seed, device=device, on_epoch=on_epoch
    )
    if trained.status != "ok":
        raise SearchError(f"supernet training {trained.status}: {trained.message} (lower the lr)")
    final = space.frame(space.configs(policy.sample(final_samples))).drop_duplicates()
    final = final.reset_index(drop=True)
    configs = space.configs(final)
    final["shared_acc"] = score(configs, -1)
    costs = [net.spec.costs(net.spec.path(c), space.model.in_shape) for c in configs]
    final["flops"], final["params"] = [c[0] for c in costs], [c[1] for c in costs]
    final = final.sort_values("shared_acc", ascending=False, kind="stable").reset_index(drop=True)
    best = space.configs(final.iloc[:1])[0]
    search_seconds = time.perf_counter() - started
    standalone = None
    if retrain_epochs:
        standalone = retrain(space, best, bundle, sn_recipe, retrain_epochs, seed, device)
        say(f"retrained {best}: val {standalone['val_acc']:.4f} in {standalone['seconds']:.1f} s")
    settings = {
        "space": space.name,
        "epochs": epochs,
        "controller_steps": controller_steps,
        "samples": samples,
        "final_samples": final_samples,
        "retrain_epochs": retrain_epochs,
        "recalibrate_bn": recalibrate_bn,
        "recipe": sn_recipe.to_dict(),
        "controller": controller,
        "seed": seed,
        "device": device,
    }
    return ENASResult(
        best=best,
        shared_acc=float(final["shared_acc"].iloc[0]),
        candidates=final,
        history=pd.DataFrame(rows),
        search_seconds=search_seconds,
        standalone=standalone,
        settings=settings,
        supernet=net,
    )


def retrain(
    space: SearchSpace, arch: Config, bundle: Any, recipe: Any, epochs: int, seed: int, device: str
) -> dict[str, Any]:
    """Train one architecture of a supernet space from scratch; its accuracies and time."""
    import dataclasses

    from ...recipes.train import train_and_evaluate

    recipe = dataclasses.replace(recipe, epochs=epochs, warmup_epochs=min(recipe.warmup_epochs, epochs - 1))
    r = train_and_evaluate(
        arch, recipe, bundle, device=device, seed=seed, model_spec=space.model, space=space
    )
    return {
        "val_acc": r.val_acc,
        "test_acc": r.test_acc,
        "seconds": r.seconds,
        "epochs": r.epochs_run,
        "status": r.status,
        "flops": r.flops,
        "params": r.params,
    }


def result_summary(result: ENASResult) -> dict[str, Any]:
    """Plain-data summary of a result (for ``enas.json``)."""
    out = {
        "best": result.best,
        "shared_acc": result.shared_acc,
        "search_seconds": result.search_seconds,
        "standalone": result.standalone,
        "settings": result.settings,
    }
    return _plain(out)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


__all__ = ["ENAS_CONTROLLER", "ControllerSampler", "ENASResult", "enas_search", "result_summary", "retrain"]
