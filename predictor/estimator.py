"""The accuracy predictor: a scikit-learn style estimator over a search space.

Call order: optionally :meth:`AccuracyPredictor.pretrain` (an encoder learns free
architecture costs such as FLOPs and params of many architectures), then
:meth:`~AccuracyPredictor.fit` on a measured sample table, then
:meth:`~AccuracyPredictor.predict` / :meth:`~AccuracyPredictor.score` on candidates.
:meth:`~AccuracyPredictor.save` writes everything to one file that
:meth:`AccuracyPredictor.load` reads back safely (``torch.load(weights_only=True)``).

The predictor never builds a network: architecture costs come in as data (a table with
cost columns) or as a callable ``costs(space, frame) -> DataFrame``, such as
:func:`jointnas.recipes.space_costs` (analytic FLOPs and params of a model space).

Example:
    >>> from jointnas.recipes import space_costs  # doctest: +SKIP
    >>> space = SearchSpace.from_yaml("configs/digits.yaml")  # doctest: +SKIP
    >>> pred = AccuracyPredictor(space, seed=0).pretrain(n=4096, costs=space_costs)  # doctest: +SKIP
    >>> pred.fit(table, target="val_acc")  # doctest: +SKIP
    >>> mean, std = pred.predict(space.sample_qmc(8, seed=1), return_std=True)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..data.space import Configs, SearchSpace
from ..data.tables import accuracy_column
from ..errors import NotFittedError, PredictorError
from . import metrics
from .inputs import CostsFn, cost_targets, usable_targets
from .networks import AccuracyHead, Encoder, Member, ProxyHead, init_weights
from .training import (
    TRANSFORMS,
    TargetTransform,
    apply_transform,
    batch_size_for,
    fit_member,
    pretrain_encoder,
    standardize_labels,
    unstandardize_labels,
)
from .trees import TREE_MODELS, fit_trees, predict_trees

# Rows per inference chunk. On a CPU, 4096 keeps a layer's activations (4096 x 96 floats)
# in a core's cache: on the 2-core benchmark box 8192 scored 140-153k configs/s and 4096
# 222-231k/s in the same run. A GPU wants few, large launches.
_CHUNK = {"cpu": 4096, "cuda": 65536}


class AccuracyPredictor:
    """Predict the accuracy of (architecture, recipe) pairs from their encodings.

    Defaults were chosen on NAS-Bench-Graph and the digits table
    (``benchmarks/bench_predictor.py``) for 20 to 5,000 training rows.

    Args:
        space: the search space whose encoding the predictor reads.
        hidden: hidden width of the encoders and the accuracy head.
        embed: embedding width of each encoder.
        depth: hidden blocks of each encoder.
        head_depth: hidden blocks of the accuracy head.
        n_models: ensemble size (members differ by seed); ``predict(return_std=True)``
            returns their spread.
        target_transform: ``standard`` (z-scores) or ``rank`` (normal scores of ranks
            within the training table); see
            :class:`~jointnas.predictor.training.TargetTransform`. With a small
            ``huber_delta``, z-scores keep a table's bulk of near-equal good runs close
            together instead of spreading their noise over the whole normal range, as
            ranks do.
        epochs: epochs with all parameters trainable (phase 2 of :meth:`fit`).
        frozen_epochs: epochs with the pretrained encoder frozen (phase 1; skipped
            without pretraining).
        pretrain_epochs: epochs of :meth:`pretrain`.
        scratch_encoder: with a pretrained encoder, give each member a second encoder
            trained from scratch, its embedding concatenated with the pretrained one (an
            embedding pretrained on a few costs can collapse onto their directions; on
            cora, tau at N=100/200/500 drops by 0.045/0.023/0.016 without it,
            ``benchmarks/results/predictor_knobs.md``).
        batch_size: rows per step (smaller tables train full batch; larger ones use
            bigger batches so that an epoch is at most 8 steps).
        lr: peak AdamW learning rate (cosine decay to zero in each phase).
        weight_decay: AdamW weight decay.
        huber_delta: Huber loss threshold on the transformed scale; small values make the
            loss nearly absolute error, robust to diverged runs.
        arch_dropout: on spaces with a recipe, the probability that a training row's
            arch embedding is dropped, so the accuracy head learns recipe effects from
            the recipe rather than from architecture details (inference scales the
            embedding by ``1 - arch_dropout``; no effect on arch-only spaces).
        tree_weight: weight of the tree models in the prediction, in [0, 1]: each
            member's output becomes ``(1 - tree_weight) * network + tree_weight *
            trees`` on the transformed scale (0: networks only). The default 0.25
            raised Kendall tau on 5 of the 6 development tables (up to +0.09) and cost
            arxiv at most 0.007; 0.5 lost 0.02-0.04 on arxiv
            (``benchmarks/results/predictor_tree_blend.md``). The trees are shared by
            all members, so they shrink the members' disagreement by ``1 - tree_weight``.
        tree_models: the tree models blended (:data:`~jointnas.predictor.trees.TREE_MODELS`),
            fit on the same inputs and transformed targets as the networks.
        features: extra numeric columns of the tables (e.g. zero-cost proxies) fed to
            the head beside the recipe; :meth:`fit` and :meth:`predict` then need them.
        valid_fraction: fraction of rows each member holds out for early stopping (a
            different fold per member); 0 trains on all rows for all epochs.
        patience: epochs without validation improvement before stopping.
        seed: seed of all randomness (Sobol pool, initialization, shuffles); ``None``
            draws fresh entropy.
        device: torch device for training and inference.
        progress: show tqdm progress bars (on a terminal).
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        hidden: int = 96,
        embed: int = 32,
        depth: int = 2,
        head_depth: int = 1,
        n_models: int = 5,
        target_transform: str = "standard",
        epochs: int = 100,
        frozen_epochs: int = 50,
        pretrain_epochs: int = 30,
        scratch_encoder: bool = True,
        batch_size: int = 128,
        lr: float = 6e-3,
        weight_decay: float = 1e-2,
        huber_delta: float = 0.1,
        arch_dropout: float = 0.5,
        tree_weight: float = 0.25,
        tree_models: Sequence[str] = ("gbr",),
        valid_fraction: float = 0.0,
        patience: int = 20,
        features: Sequence[str] = (),
        seed: int | None = None,
        device: str = "cpu",
        progress: bool = False,
    ) -> None:
        self.space = space
        self.hidden = hidden
        self.embed = embed
        self.depth = depth
        self.head_depth = head_depth
        self.n_models = n_models
        self.target_transform = target_transform
        self.epochs = epochs
        self.frozen_epochs = frozen_epochs
        self.pretrain_epochs = pretrain_epochs
        self.scratch_encoder = scratch_encoder
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.huber_delta = huber_delta
        self.arch_dropout = arch_dropout
        self.tree_weight = tree_weight
        self.tree_models = tree_models
        self.valid_fraction = valid_fraction
        self.patience = patience
        self.features = features
        self.seed = seed
        self.device = device
        self.progress = progress

    # -- scikit-learn plumbing ---------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments, as scikit-learn's ``clone`` expects."""
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params: Any) -> "AccuracyPredictor":
        """Set constructor arguments; unknown names raise ``ValueError``."""
        valid = set(_PARAMS)
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"unknown parameter {key!r} (valid: {', '.join(sorted(valid))})")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        return f"AccuracyPredictor(space={self.space.name!r}, n_models={self.n_models}, seed={self.seed})"

    # -- pretraining -------------------------------------------------------------------
    def pretrain(
        self,
        archs_or_table: Configs | None = None,
        n: int = 20000,
        targets: Sequence[str] = ("flops", "params"),
        costs: CostsFn | pd.DataFrame | None = None,
    ) -> "AccuracyPredictor":
        """Fit the encoder and a proxy head to predict free labels of architectures.

        Free labels cost no training: costs (FLOPs, params, latency) or zero-cost proxies
        (:mod:`jointnas.recipes.zero_cost`). Each column is scaled by its own transform
        (``log`` when all its values are positive, else ``signed_log``) and standardized;
        missing values (NaN) are masked out of the loss.

        Args:
            archs_or_table: architectures (configs, or a table holding the arch columns).
                ``None`` draws ``n`` from the space with a scrambled Sobol sequence.
            n: pool size when no architectures are given.
            targets: label columns to predict (e.g. ``flops, params``,
                ``params_m, latency_s`` or ``flops, synflow, nwot``); rows with no finite
                value are skipped.
            costs: a callable ``costs(space, frame) -> DataFrame`` or a DataFrame aligned
                with the architectures (for a model space's FLOPs and params:
                :func:`jointnas.recipes.space_costs`). Default: a table's own ``targets``
                columns (they must exist); sampled or listed architectures need ``costs``.

        Returns:
            ``self``, with ``encoder_`` and ``proxy_`` fitted.

        Raises:
            TableError: the table lacks an arch variable or holds a value outside the space.
            PredictorError: a target column is missing, or all its values are.
        """
        self.check_params()
        frame, values = cost_targets(
            self.space, archs_or_table, n, targets, costs, seed=self._int_seed("pool", 0)
        )
        scaled, transforms, mean, std = standardize_labels(values)
        dev = torch.device(self.device)
        x = torch.from_numpy(self.space.encode_arch(frame)).to(dev)
        y = torch.from_numpy(scaled.astype(np.float32)).to(dev)
        gen = self._generator("pretrain", 0)
        encoder = init_weights(self._new_encoder(), gen).to(dev)
        proxy = init_weights(ProxyHead(self.embed, values.shape[1]), gen).to(dev)
        bs = min(len(x), max(self.batch_size, 256))
        with self._bar(self.pretrain_epochs * -(-len(x) // bs), "pretrain") as bar:
            self.pretrain_loss_ = pretrain_encoder(
                encoder,
                proxy,
                x,
                y,
                generator=gen,
                epochs=self.pretrain_epochs,
                batch_size=bs,
                lr=self.lr,
                weight_decay=self.weight_decay,
                tick=bar.update,
            )
        self.encoder_ = encoder.eval()
        self.proxy_ = proxy.eval()
        self.proxy_targets_ = tuple(targets)
        self.proxy_transforms_ = tuple(transforms)
        self.proxy_mean_, self.proxy_std_ = mean, std
        return self

    def predict_costs(self, configs: Configs) -> pd.DataFrame:
        """Free labels predicted by the pretrained proxy head, in their original units.

        Raises:
            NotFittedError: :meth:`pretrain` was not called.
        """
        if not self.is_pretrained:
            raise NotFittedError("the predictor has no pretrained proxy head: call pretrain() first")
        chunks = []
        with torch.inference_mode():
            for _, a, _ in self._batches(self.space.encode_arch(configs)):
                chunks.append(self.proxy_(self.encoder_(a)).cpu().numpy())
        out = np.concatenate(chunks) if chunks else np.zeros((0, len(self.proxy_targets_)))
        values = unstandardize_labels(out, self.proxy_transforms_, self.proxy_mean_, self.proxy_std_)
        return pd.DataFrame(values, columns=list(self.proxy_targets_))

    # -- fitting -----------------------------------------------------------------------
    def fit(self, table: pd.DataFrame, target: str | None = None) -> "AccuracyPredictor":
        """Fit the ensemble on a measured table, starting from the pretrained encoder if any.

        Rows whose ``status`` is not ``ok`` or whose target is missing are skipped with a
        warning. With a pretrained encoder, phase 1 trains with it frozen
        (``frozen_epochs``); phase 2 trains all parameters (``epochs``). Huber loss on
        the transformed targets. ``progress=True`` shows a bar on a terminal.

        Args:
            table: sample table with every space variable and the ``target`` column.
            target: the accuracy column; default: the table's first of
                :data:`~jointnas.data.tables.ACCURACY_COLUMNS` (``acc``, ``val_acc``,
                ``valid_acc``). Stored as ``target_`` (and in saved files), the default
                of :meth:`score`.

        Returns:
            ``self``.

        Raises:
            TableError: a missing variable or target column, or a value outside the space.
            PredictorError: fewer than two usable rows.
        """
        self.check_params()
        target = accuracy_column(table) if target is None else target
        rows, values, skipped = usable_targets(self.space, table, target)
        transform = TargetTransform(self.target_transform)
        y_np = transform.fit(values)
        dev = torch.device(self.device)
        self._fit_features(rows)
        xa_np, xr_np = self._inputs(rows)
        xa, xr = torch.from_numpy(xa_np).to(dev), torch.from_numpy(xr_np).to(dev)
        y = torch.from_numpy(y_np.astype(np.float32)).to(dev)
        bs = batch_size_for(len(y), self.batch_size)
        epochs = self.epochs + (self.frozen_epochs if self.is_pretrained else 0)
        with self._bar(self.n_models * epochs * -(-len(y) // bs), "fit") as bar:
            members = [self._fit_member(m, xa, xr, y, bs, bar.update) for m in range(self.n_models)]
        self.members_ = members
        self._fit_trees(np.concatenate([xa_np, xr_np], axis=1), y_np)
        self.transform_ = transform
        self.target_ = target
        self.n_train_ = len(rows)
        self.n_skipped_ = skipped
        return self

    def _fit_member(
        self,
        m: int,
        xa: torch.Tensor,
        xr: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        tick: Callable[[int], None],
    ) -> Member:
        gen = self._generator("member", m)
        encoders = self._member_encoders()
        if self.is_pretrained:
            encoders[0].load_state_dict(self.encoder_.state_dict())
            for enc in encoders[1:]:
                init_weights(enc, gen)
        else:
            init_weights(encoders[0], gen)
        head = init_weights(self._new_head(len(encoders)), gen)
        return fit_member(
            encoders,
            head,
            xa,
            xr,
            y,
            pretrained=self.is_pretrained,
            frozen_epochs=self.frozen_epochs,
            epochs=self.epochs,
            huber_delta=self.huber_delta,
            valid_fraction=self.valid_fraction,
            patience=self.patience,
            generator=gen,
            batch_size=batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            tick=tick,
        )

    # -- inference ---------------------------------------------------------------------
    def predict(
        self, configs_or_table: Configs, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predicted accuracy of each config (higher is better), vectorized.

        The ensemble mean is taken on the transformed scale and mapped back to the
        accuracy scale; ``std`` is the spread of the members' mapped predictions.

        Args:
            configs_or_table: configs as a list of dicts or a DataFrame with one column per
                variable (extra columns are ignored).
            return_std: also return the ensemble's standard deviation per config (zeros
                when ``n_models == 1``).

        Returns:
            ``pred`` of shape ``(n,)``, or ``(pred, std)`` with ``return_std``.

        Raises:
            NotFittedError: :meth:`fit` was not called.
            SpaceError: a config misses a variable or holds a value outside the space.
        """
        z = self._member_outputs(configs_or_table)
        pred = self.transform_.inverse(z.mean(axis=0))
        if not return_std:
            return pred
        spread = self.transform_.inverse(z).std(axis=0) if len(z) > 1 else np.zeros_like(pred)
        return pred, spread

    def predict_members(self, configs_or_table: Configs) -> np.ndarray:
        """Each ensemble member's prediction, shape ``(n_models, n)``, on the accuracy scale.

        Raises:
            NotFittedError: :meth:`fit` was not called.
            SpaceError: a config misses a variable or holds a value outside the space.
        """
        return self.transform_.inverse(self._member_outputs(configs_or_table))

    def _member_outputs(self, configs: Configs) -> np.ndarray:
        """Outputs (transformed scale) of every member, ``(n_models, n)``: the networks'
        outputs blended with the trees' (``tree_weight``)."""
        members = self.check_fitted()
        xa, xr = self._inputs(configs)
        z = np.empty((len(members), len(xa)), dtype=np.float64)
        with torch.inference_mode():
            for start, a, r in self._batches(xa, xr):
                for j, member in enumerate(members):
                    z[j, start : start + len(a)] = member(a, r).cpu().numpy()
        trees = getattr(self, "trees_", None)
        if trees and len(xa):
            w = self.tree_weight
            z = (1.0 - w) * z + w * predict_trees(trees, np.concatenate([xa, xr], axis=1))
        return z

    def _fit_trees(self, x: np.ndarray, y: np.ndarray) -> None:
        """Fit the tree models on the inputs ``x`` (arch encoding, then recipe inputs) and
        transformed targets ``y``; kept as ``tree_data_`` so a saved file can refit them
        (:mod:`~jointnas.predictor.trees`). No trees when ``tree_weight`` is 0."""
        if self.tree_weight == 0 or not self.tree_models:
            self.trees_, self.tree_data_ = [], None
            return
        self.trees_ = fit_trees(self.tree_models, x, y, self._int_seed("trees", 0))
        self.tree_data_ = (x, y)

    def score(
        self, table: pd.DataFrame, target: str | None = None, k: int | None = None, n_top: int = 10
    ) -> dict[str, float]:
        """Metrics of the predictions on a measured table (usable rows only).

        Args:
            table: measured table with every space variable and the target column.
            target: the true accuracy column; default: the one the predictor was fitted
                on (``target_``), else the table's first accuracy column.
            k: top-k size of ``precision_at_k`` (default: 10% of the rows).
            n_top: how many predicted-best rows ``top_n_rank`` (TnR) looks at.

        Returns:
            :func:`~jointnas.predictor.metrics.regression_report`'s dict (``kendall_tau``,
            ``spearman``, ``rmse``, ``precision_at_k``, ``top_n_rank``, ...; their meaning
            in :data:`~jointnas.predictor.metrics.METRIC_HELP`).

        Raises:
            NotFittedError: :meth:`fit` was not called.
            TableError: a missing variable or target column, or a value outside the space.
            PredictorError: no usable row.
        """
        self.check_fitted()
        target = self.default_target(table) if target is None else target
        rows, truth, _ = usable_targets(self.space, table, target, minimum=1, warn=False)
        return metrics.regression_report(truth, self.predict(rows), k=k, n_top=n_top)

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the predictor (pretrained and/or fitted) to one file, atomically.

        Raises:
            PredictorError: nothing to save (neither pretrained nor fitted).
        """
        from .storage import save_predictor

        save_predictor(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, space: SearchSpace | None = None) -> "AccuracyPredictor":
        """Read a predictor written by :meth:`save`.

        Args:
            path: the file.
            space: if given, the file must have been made for a space with the same
                fingerprint; default: the space stored in the file.

        Raises:
            PredictorError: missing, corrupt or truncated file, or another space.
        """
        from .storage import load_predictor

        return load_predictor(cls, path, space)

    # -- helpers -----------------------------------------------------------------------
    @property
    def is_pretrained(self) -> bool:
        """Whether a pretrained encoder is present."""
        return getattr(self, "encoder_", None) is not None

    def default_target(self, table: pd.DataFrame) -> str:
        """The column :meth:`score` compares with: ``target_`` (the fitted one), if known.

        Files saved before the target was stored hold none: then the table's first
        accuracy column (:func:`~jointnas.data.tables.accuracy_column`).
        """
        return getattr(self, "target_", None) or accuracy_column(table)

    def check_fitted(self) -> list[Member]:
        """The fitted ensemble members.

        Raises:
            NotFittedError: :meth:`fit` was not called (e.g. a pretrain-only file).
        """
        members = getattr(self, "members_", None)
        if not members:
            extra = " (it holds only a pretrained encoder)" if self.is_pretrained else ""
            raise NotFittedError(
                f"this AccuracyPredictor is not fitted{extra}: fit it on a "
                "measured table first (fit(), or `predictor train`)"
            )
        return members

    def check_params(self) -> None:
        """Validate the hyperparameters (also done by :meth:`pretrain` and :meth:`fit`).

        Raises:
            PredictorError: a value out of its range, naming the parameter.
        """
        if self.target_transform not in TRANSFORMS:
            raise PredictorError(
                f"target_transform={self.target_transform!r} (allowed: {', '.join(TRANSFORMS)})"
            )
        for key in ("hidden", "embed", "n_models", "batch_size"):
            value = getattr(self, key)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise PredictorError(f"{key}={value!r} must be a positive integer")
        for key in ("valid_fraction", "arch_dropout"):
            value = getattr(self, key)
            if not 0.0 <= value < 1.0:
                raise PredictorError(f"{key}={value!r} must be in [0, 1)")
        if not 0.0 <= self.tree_weight <= 1.0:
            raise PredictorError(f"tree_weight={self.tree_weight!r} must be in [0, 1]")
        unknown = [m for m in self.tree_models if m not in TREE_MODELS]
        if isinstance(self.tree_models, str) or unknown:
            raise PredictorError(
                f"tree_models={self.tree_models!r}: a list of model names (allowed: {', '.join(TREE_MODELS)})"
            )

    def _new_encoder(self) -> Encoder:
        return Encoder(self.space.arch_width, self.hidden, self.embed, self.depth)

    def _member_encoders(self) -> list[Encoder]:
        """One encoder, or two (pretrained + scratch) when pretrained with ``scratch_encoder``."""
        count = 2 if (self.is_pretrained and self.scratch_encoder) else 1
        return [self._new_encoder() for _ in range(count)]

    def _fit_features(self, rows: pd.DataFrame) -> None:
        """Learn the scaling of the ``features`` columns (see :meth:`_recipe_inputs`)."""
        names = list(self.features)
        if not names:
            self.feature_scaling_ = None
            return
        values = _feature_values(rows, names, "the fit table")
        _, transforms, mean, std = standardize_labels(values)
        self.feature_scaling_ = (tuple(transforms), mean, std)

    def _recipe_inputs(self, configs: Configs) -> np.ndarray:
        """The head's second input: the recipe encoding, then the ``features`` columns
        scaled like free labels (``log`` or signed log, z-scored with the fit rows'
        statistics; a missing value becomes the fit mean, 0)."""
        xr = self.space.encode_recipe(configs)
        scaling = getattr(self, "feature_scaling_", None)
        if not self.features or scaling is None:
            return xr
        values = _feature_values(configs, list(self.features), "the candidates")
        transforms, mean, std = scaling
        moved = np.column_stack([apply_transform(values[:, j], t) for j, t in enumerate(transforms)])
        scaled = np.nan_to_num((moved - mean) / std, nan=0.0, posinf=0.0, neginf=0.0)
        return np.concatenate([xr, scaled.astype(xr.dtype)], axis=1)

    def _new_head(self, n_encoders: int) -> AccuracyHead:
        recipe_dim = self.space.width - self.space.arch_width + len(self.features)
        return AccuracyHead(
            self.embed * n_encoders,
            recipe_dim,
            self.hidden,
            self.head_depth,
            recipe_embed=self.embed,
            arch_dropout=self.arch_dropout,
        )

    def _int_seed(self, purpose: str, index: int) -> int:
        """A 32-bit seed derived from ``seed`` (or fixed fresh entropy) and a purpose."""
        if self.seed is None and getattr(self, "_entropy", None) is None:
            self._entropy = np.random.SeedSequence().entropy
        entropy = self._entropy if self.seed is None else self.seed
        key = (sum(map(ord, purpose)), index)
        return int(np.random.SeedSequence(entropy, spawn_key=key).generate_state(1)[0])

    def _generator(self, purpose: str, index: int) -> torch.Generator:
        return torch.Generator().manual_seed(self._int_seed(purpose, index))

    def _inputs(self, configs: Configs) -> tuple[np.ndarray, np.ndarray]:
        """The arch encoding and the recipe inputs of every config."""
        return self.space.encode_arch(configs), self._recipe_inputs(configs)

    def _batches(
        self, xa: np.ndarray, xr: np.ndarray | None = None
    ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor | None]]:
        """Yield ``(start, arch, recipe)`` tensor chunks of encoded configs for inference."""
        dev = torch.device(self.device)
        chunk = _CHUNK.get(dev.type, _CHUNK["cpu"])
        for start in range(0, len(xa), chunk):
            a = torch.from_numpy(xa[start : start + chunk]).to(dev)
            r = None if xr is None else torch.from_numpy(xr[start : start + chunk]).to(dev)
            yield start, a, r

    def _bar(self, total: int, desc: str) -> tqdm:
        # progress=True shows bars on a terminal only (tqdm's disable=None)
        return tqdm(total=total, desc=desc, unit="step", disable=None if self.progress else True, leave=False)


def _feature_values(configs: Configs, names: list[str], what: str) -> np.ndarray:
    """The ``names`` columns of a table (or of config dicts) as floats, NaN where missing.

    Raises:
        PredictorError: a feature column absent from ``what``.
    """
    frame = configs if isinstance(configs, pd.DataFrame) else pd.DataFrame(list(configs))
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise PredictorError(
            f"feature column(s) {', '.join(missing)} missing in {what} "
            f"(the predictor's features: {', '.join(names)})"
        )
    values = frame[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    values[~np.isfinite(values)] = np.nan
    return values


_PARAMS = [p for p in inspect.signature(AccuracyPredictor.__init__).parameters if p != "self"]

__all__ = ["AccuracyPredictor"]
