"""The accuracy predictor: a scikit-learn style estimator over a search space.

Call order: optionally :meth:`AccuracyPredictor.pretrain` (an encoder learns to predict
free architecture costs such as FLOPs and params from many architectures), then
:meth:`~AccuracyPredictor.fit` on a measured sample table, then
:meth:`~AccuracyPredictor.predict` / :meth:`~AccuracyPredictor.score` on candidates.
:meth:`~AccuracyPredictor.save` writes everything to one file that
:meth:`AccuracyPredictor.load` reads back safely (``torch.load(weights_only=True)``).

The predictor never builds a network: architecture costs come in as data (a table with
cost columns) or as a callable ``costs(space, frame) -> DataFrame``; by default
:func:`jointnas.recipes.cost.space_costs`, imported only when pretraining needs it.

Example:
    >>> space = SearchSpace.from_yaml("configs/digits.yaml")  # doctest: +SKIP
    >>> pred = AccuracyPredictor(space, seed=0).pretrain(n=4096)  # doctest: +SKIP
    >>> pred.fit(table, target="acc").predict(space.sample_qmc(8, seed=1))  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import os
import warnings
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..data.space import Configs, SearchSpace
from ..data.tables import usable_rows, validate_table
from ..errors import NotFittedError, PredictorError
from . import metrics
from .networks import AccuracyHead, Encoder, Member, ProxyHead, init_weights
from .training import TRANSFORMS, TargetTransform, log_standardize, train_loop

CostsFn = Callable[[SearchSpace, pd.DataFrame], pd.DataFrame]
_CHUNK = 8192


class AccuracyPredictor:
    """Predict the accuracy of (architecture, recipe) pairs from their encodings.

    Args:
        space: the search space whose encoding the predictor reads.
        hidden: hidden width of the encoder and the accuracy head.
        embed: embedding width.
        depth: hidden blocks of the encoder.
        head_depth: hidden blocks of the accuracy head.
        n_models: ensemble size (members differ by seed); ``predict(return_std=True)``
            returns their spread.
        target_transform: ``rank`` (normal scores of within-table ranks) or
            ``standard`` (z-scores); see :class:`~jointnas.predictor.training.TargetTransform`.
        epochs: fine-tuning epochs with all parameters trainable (phase 2).
        frozen_epochs: epochs with the pretrained encoder frozen (phase 1; skipped
            without pretraining).
        pretrain_epochs: epochs of :meth:`pretrain`.
        batch_size: rows per step (tables up to this size train full batch).
        lr: peak AdamW learning rate (cosine decay to zero in each phase).
        weight_decay: AdamW weight decay.
        huber_delta: Huber loss threshold on the transformed scale.
        valid_fraction: fraction of the rows each member holds out for early stopping
            (a different fold per member); 0 trains on all rows for all epochs.
        patience: epochs without validation improvement before stopping.
        seed: seed of all randomness (Sobol pool, initialization, shuffles); ``None``
            draws fresh entropy.
        device: torch device for training and inference.
        progress: show tqdm progress bars.
    """

    def __init__(self, space: SearchSpace, *, hidden: int = 128, embed: int = 32, depth: int = 2,
                 head_depth: int = 1, n_models: int = 5, target_transform: str = "rank",
                 epochs: int = 200, frozen_epochs: int = 100, pretrain_epochs: int = 30,
                 batch_size: int = 128, lr: float = 3e-3, weight_decay: float = 1e-2,
                 huber_delta: float = 1.0, valid_fraction: float = 0.0, patience: int = 20,
                 recon_weight: float = 0.0, encoder_lr_scale: float = 1.0, bootstrap: bool = False,
                 arch_skip: bool = False, aux_weight: float = 0.0, member_encoders: bool = False, dual: bool = False,
                 seed: int | None = None, device: str = "cpu", progress: bool = False) -> None:
        self.recon_weight = recon_weight
        self.encoder_lr_scale = encoder_lr_scale
        self.bootstrap = bootstrap
        self.arch_skip = arch_skip
        self.aux_weight = aux_weight
        self.member_encoders = member_encoders
        self.dual = dual
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
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.huber_delta = huber_delta
        self.valid_fraction = valid_fraction
        self.patience = patience
        self.seed = seed
        self.device = device
        self.progress = progress

    # -- scikit-learn plumbing ---------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments, as scikit-learn's ``clone`` expects."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "AccuracyPredictor":
        """Set constructor arguments; unknown names raise ``ValueError``."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"unknown parameter {key!r} (valid: {', '.join(sorted(valid))})")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        keys = ("hidden", "embed", "n_models", "target_transform", "seed")
        body = ", ".join(f"{k}={getattr(self, k)!r}" for k in keys)
        return f"AccuracyPredictor(space={self.space.name!r}, {body})"

    # -- pretraining -------------------------------------------------------------------
    def pretrain(self, archs_or_table: Configs | None = None, n: int = 20000,
                 targets: Sequence[str] = ("flops", "params"),
                 costs: CostsFn | pd.DataFrame | None = None) -> "AccuracyPredictor":
        """Fit the encoder and a proxy head to predict log-scaled architecture costs.

        Args:
            archs_or_table: architectures (configs or a table holding the arch columns).
                ``None`` draws ``n`` from the space with a Sobol sequence.
            n: pool size when no architectures are given.
            targets: cost columns to predict (e.g. ``flops, params`` or
                ``params_m, latency_s``); values must be positive.
            costs: a callable ``costs(space, frame) -> DataFrame`` or a DataFrame aligned
                with the architectures. Default: a table's own ``targets`` columns (they
                must exist); for sampled or listed architectures
                :func:`jointnas.recipes.cost.space_costs`.

        Returns:
            ``self``, with ``encoder_`` and ``proxy_`` fitted.

        Raises:
            TableError: the table lacks an arch variable or holds a value outside the space.
            PredictorError: a target column is missing, or no row has positive costs.
        """
        self._check_params()
        targets = tuple(targets)
        if not targets:
            raise PredictorError("pretraining needs at least one cost target")
        frame, cost_frame = self._pretrain_data(archs_or_table, n, targets, costs)
        values = cost_frame.loc[:, list(targets)].apply(pd.to_numeric, errors="coerce").to_numpy(
            dtype=np.float64)
        keep = np.all(np.isfinite(values) & (values > 0), axis=1)
        if not keep.any():
            raise PredictorError(f"no row has positive finite values of {', '.join(targets)}")
        if not keep.all():
            warnings.warn(f"pretraining skips {int((~keep).sum())} of {len(keep)} rows with "
                          f"missing or non-positive {', '.join(targets)}", stacklevel=2)
        scaled, mean, std = log_standardize(values[keep])
        dev = torch.device(self.device)
        x = torch.from_numpy(self.space.encode_arch(frame)[keep]).to(dev)
        y = torch.from_numpy(scaled.astype(np.float32)).to(dev)
        self.encoders_, self.proxies_ = [], []
        for e in range(self.n_models if self.member_encoders else 1):
            encoder, proxy = self._pretrain_one(e, x, y)
            self.encoders_.append(encoder.eval())
            self.proxies_.append(proxy.eval())
        encoder, proxy = self.encoders_[0], self.proxies_[0]
        self.pool_x_, self.pool_y_ = x, y
        self.encoder_ = encoder.eval()
        self.proxy_ = proxy.eval()
        self.proxy_targets_ = targets
        self.proxy_mean_, self.proxy_std_ = mean, std
        return self

    def _pretrain_one(self, e, x, y):
        dev = x.device
        gen = self._generator("pretrain", e)
        encoder = init_weights(self._new_encoder(), gen).to(dev)
        proxy = init_weights(ProxyHead(self.embed, y.shape[1]), gen).to(dev)

        decoder = init_weights(torch.nn.Linear(self.embed, x.shape[1]), gen).to(dev)
        rw = self.recon_weight

        def loss_fn(idx: torch.Tensor) -> torch.Tensor:
            z = encoder(x[idx])
            loss = torch.nn.functional.mse_loss(proxy(z), y[idx])
            if rw:
                loss = loss + rw * torch.nn.functional.binary_cross_entropy_with_logits(decoder(z), x[idx])
            return loss

        bs = max(self.batch_size, 256)
        params = list(encoder.parameters()) + list(proxy.parameters())
        if rw:
            params += list(decoder.parameters())
        with self._bar(self.pretrain_epochs * -(-len(x) // bs), "pretrain") as bar:
            self.pretrain_loss_ = train_loop(params, loss_fn, len(x), epochs=self.pretrain_epochs,
                                             batch_size=bs, lr=self.lr, weight_decay=self.weight_decay,
                                             generator=gen, device=dev, tick=bar.update)
        return encoder, proxy

    def _pretrain_data(self, data: Configs | None, n: int, targets: tuple[str, ...],
                       costs: CostsFn | pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
        if data is None:
            frame = self.space.sample_qmc(n, seed=self._int_seed("pool", 0), frame=True)
        elif isinstance(data, pd.DataFrame):
            frame = validate_table(data, self.space, part="arch").reset_index(drop=True)
        else:
            frame = pd.DataFrame(self.space.columns(data, self.space.arch_names))
        if isinstance(costs, pd.DataFrame):
            cost_frame = costs.reset_index(drop=True)
            if len(cost_frame) != len(frame):
                raise PredictorError(f"costs has {len(cost_frame)} rows for {len(frame)} architectures")
        elif costs is not None:
            cost_frame = costs(self.space, frame)
        elif isinstance(data, pd.DataFrame):
            cost_frame = frame
        else:
            from ..recipes.cost import space_costs  # the default, imported only when needed

            cost_frame = space_costs(self.space, frame)
        missing = [t for t in targets if t not in cost_frame.columns]
        if missing:
            raise PredictorError(f"pretraining target column(s) {', '.join(missing)} not found "
                                 f"(columns: {', '.join(map(str, cost_frame.columns))})")
        return frame, cost_frame

    def predict_costs(self, configs: Configs) -> pd.DataFrame:
        """Costs predicted by the pretrained proxy head, in the original units.

        Raises:
            NotFittedError: :meth:`pretrain` was not called.
        """
        if getattr(self, "proxy_", None) is None:
            raise NotFittedError("the predictor has no pretrained proxy head: call pretrain() first")
        x = self.space.encode_arch(configs)
        with torch.inference_mode():
            out = np.concatenate([self.proxy_(self.encoder_(t)).cpu().numpy()
                                  for t in self._chunks(x)]) if len(x) else np.zeros((0, 1))
        logs = out.astype(np.float64) * self.proxy_std_ + self.proxy_mean_
        return pd.DataFrame(np.exp(logs), columns=list(self.proxy_targets_))

    # -- fitting -----------------------------------------------------------------------
    def fit(self, table: pd.DataFrame, target: str = "acc") -> "AccuracyPredictor":
        """Fit the accuracy head (and fine-tune the encoder) on a measured table.

        Rows whose ``status`` is not ``ok`` or whose target is missing are skipped with a
        warning. With a pretrained encoder, phase 1 trains only the head
        (``frozen_epochs``); phase 2 trains all parameters (``epochs``).

        Args:
            table: sample table with every space variable and the ``target`` column.
            target: the accuracy column.

        Returns:
            ``self``.

        Raises:
            TableError: a missing variable or target column, or a value outside the space.
            PredictorError: fewer than two usable rows.
        """
        self._check_params()
        validate_table(table, self.space, require=(target,))
        mask = usable_rows(table, target)
        skipped = int((~mask).sum())
        if mask.sum() < 2:
            raise PredictorError(f"{int(mask.sum())} usable row(s) of {len(table)} for target "
                                 f"'{target}': need at least 2 rows with status ok and a value")
        if skipped:
            warnings.warn(f"fit skips {skipped} of {len(table)} rows (status not ok or "
                          f"missing '{target}')", stacklevel=2)
        rows = table.loc[mask]
        transform = TargetTransform(self.target_transform)
        y_np = transform.fit(pd.to_numeric(rows[target]).to_numpy(dtype=np.float64))
        dev = torch.device(self.device)
        xa = torch.from_numpy(self.space.encode_arch(rows)).to(dev)
        xr = torch.from_numpy(self.space.encode_recipe(rows)).to(dev)
        y = torch.from_numpy(y_np.astype(np.float32)).to(dev)
        pretrained = getattr(self, "encoder_", None)
        encoders = getattr(self, "encoders_", None) or [pretrained]
        bs = min(self.batch_size, len(y))
        steps = (self.epochs + (self.frozen_epochs if pretrained is not None else 0)) * -(-len(y) // bs)
        members = []
        with self._bar(steps * self.n_models, "fit") as bar:
            for m in range(self.n_models):
                members.append(self._fit_member(m, encoders[m % len(encoders)], xa, xr, y, bar.update))
        self.members_ = members
        self.transform_ = transform
        self.target_ = target
        self.n_train_ = int(mask.sum())
        self.n_skipped_ = skipped
        return self

    def _fit_member(self, m: int, pretrained: Encoder | None, xa: torch.Tensor, xr: torch.Tensor,
                    y: torch.Tensor, tick: Callable[[int], None]) -> Member:
        dev = xa.device
        gen = self._generator("member", m)
        encoder = self._new_encoder()
        if pretrained is not None:
            encoder.load_state_dict(pretrained.state_dict())
        else:
            init_weights(encoder, gen)
        fresh = init_weights(self._new_encoder(), gen) if (self.dual and pretrained is not None) else None
        head = init_weights(AccuracyHead(self.embed * (2 if fresh is not None else 1), self._head_extra(),
                                         self.hidden, self.head_depth), gen)
        member = Member(encoder, head, fresh).to(dev).train()
        n = len(y)
        if self.arch_skip:
            xr = torch.cat([xa, xr], dim=1)
        train_idx, valid_idx = self._split(n, gen, dev)
        if self.bootstrap:
            train_idx = train_idx[torch.randint(len(train_idx), (len(train_idx),), generator=gen).to(dev)]
        delta = self.huber_delta

        aux = self.aux_weight if (pretrained is not None and getattr(self, "pool_x_", None) is not None) else 0.0
        if aux:
            import copy as _copy
            proxy = _copy.deepcopy(self.proxies_[m % len(self.proxies_)]).train()
            px, py = self.pool_x_, self.pool_y_
            agen = self._generator("aux", m)
            aux_bs = 256

        def loss_fn(idx: torch.Tensor) -> torch.Tensor:
            rows = train_idx[idx]
            loss = torch.nn.functional.huber_loss(member(xa[rows], xr[rows]), y[rows], delta=delta)
            if aux and torch.is_grad_enabled() and any(p.requires_grad for p in encoder.parameters()):
                pick = torch.randint(len(px), (aux_bs,), generator=agen)
                loss = loss + aux * torch.nn.functional.mse_loss(proxy(encoder(px[pick])), py[pick])
            return loss

        valid_fn = None
        if valid_idx is not None:
            def valid_fn() -> float:
                with torch.no_grad():
                    pred = member(xa[valid_idx], xr[valid_idx])
                    return float(torch.nn.functional.huber_loss(pred, y[valid_idx], delta=delta))

        common = dict(batch_size=min(self.batch_size, len(train_idx)), lr=self.lr,
                      weight_decay=self.weight_decay, generator=gen, device=dev, tick=tick)
        if pretrained is not None and self.frozen_epochs > 0:
            train_loop(list(head.parameters()) + (list(fresh.parameters()) if fresh is not None else []), loss_fn, len(train_idx), epochs=self.frozen_epochs,
                       **common)
        groups = [{"params": list(encoder.parameters()), "lr": self.lr * self.encoder_lr_scale},
                  {"params": list(head.parameters()) + (list(fresh.parameters()) if fresh is not None else [])}]
        if aux:
            groups.append({"params": list(proxy.parameters())})
        train_loop(groups, loss_fn, len(train_idx), epochs=self.epochs,
                   valid_fn=valid_fn, modules=member, patience=self.patience, **common)
        return member.eval()

    def _split(self, n: int, gen: torch.Generator,
               dev: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        n_valid = int(round(self.valid_fraction * n))
        if n_valid < 1 or n - n_valid < 2:
            return torch.arange(n, device=dev), None
        perm = torch.randperm(n, generator=gen).to(dev)
        return perm[n_valid:], perm[:n_valid]

    # -- inference ---------------------------------------------------------------------
    def predict(self, configs_or_table: Configs, return_std: bool = False
                ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predicted accuracy of each config (higher is better), vectorized.

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
        members = self.check_fitted()
        z = self._member_outputs(members, configs_or_table)
        pred = self.transform_.inverse(z.mean(axis=0))
        if not return_std:
            return pred
        spread = self.transform_.inverse(z).std(axis=0) if len(members) > 1 else np.zeros_like(pred)
        return pred, spread

    def _member_outputs(self, members: list[Member], configs: Configs) -> np.ndarray:
        xa = self.space.encode_arch(configs)
        xr = self.space.encode_recipe(configs)
        out = np.empty((len(members), len(xa)), dtype=np.float64)
        dev = torch.device(self.device)
        with torch.inference_mode():
            for start in range(0, len(xa), _CHUNK):
                a = torch.from_numpy(xa[start:start + _CHUNK]).to(dev)
                r = torch.from_numpy(xr[start:start + _CHUNK]).to(dev)
                if self.arch_skip:
                    r = torch.cat([a, r], dim=1)
                for j, member in enumerate(members):
                    out[j, start:start + len(a)] = member(a, r).cpu().numpy()
        return out

    def score(self, table: pd.DataFrame, target: str = "acc", k: int | None = None,
              n_top: int = 10) -> dict[str, float]:
        """Metrics of the predictions on a measured table (usable rows only).

        Returns:
            :func:`~jointnas.predictor.metrics.regression_report`'s dict (``kendall_tau``,
            ``spearman``, ``rmse``, ``precision_at_k``, ``top_n_rank``, ...).

        Raises:
            NotFittedError, TableError, PredictorError (no usable row).
        """
        self.check_fitted()
        validate_table(table, self.space, require=(target,))
        mask = usable_rows(table, target)
        if not mask.any():
            raise PredictorError(f"no usable row for target '{target}' (status ok and a value)")
        rows = table.loc[mask]
        truth = pd.to_numeric(rows[target]).to_numpy(dtype=np.float64)
        return metrics.regression_report(truth, self.predict(rows), k=k, n_top=n_top)

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the predictor (pretrained and/or fitted) to one file, atomically."""
        from .storage import save_predictor

        save_predictor(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, space: SearchSpace | None = None) -> "AccuracyPredictor":
        """Read a predictor written by :meth:`save`.

        Args:
            path: the file.
            space: if given, the file must have been made for a space with the same
                fingerprint.

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

    def check_fitted(self) -> list[Member]:
        """The fitted ensemble members.

        Raises:
            NotFittedError: :meth:`fit` was not called (e.g. a pretrain-only file).
        """
        members = getattr(self, "members_", None)
        if not members:
            extra = " (it holds only a pretrained encoder)" if self.is_pretrained else ""
            raise NotFittedError(f"this AccuracyPredictor is not fitted{extra}: fit it on a measured "
                                 "table first (fit(), or `predictor train`)")
        return members

    def _check_params(self) -> None:
        if self.target_transform not in TRANSFORMS:
            raise PredictorError(f"target_transform={self.target_transform!r} "
                                 f"(allowed: {', '.join(TRANSFORMS)})")
        for key in ("hidden", "embed", "n_models", "batch_size"):
            value = getattr(self, key)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise PredictorError(f"{key}={value!r} must be a positive integer")
        if not 0.0 <= self.valid_fraction < 1.0:
            raise PredictorError(f"valid_fraction={self.valid_fraction!r} must be in [0, 1)")

    def _head_extra(self) -> int:
        extra = self.space.width - self.space.arch_width
        return extra + (self.space.arch_width if self.arch_skip else 0)

    def _new_encoder(self) -> Encoder:
        return Encoder(self.space.arch_width, self.hidden, self.embed, self.depth)

    def _int_seed(self, purpose: str, index: int) -> int:
        if self.seed is None and getattr(self, "_entropy", None) is None:
            self._entropy = np.random.SeedSequence().entropy
        entropy = self._entropy if self.seed is None else self.seed
        key = (sum(map(ord, purpose)), index)
        return int(np.random.SeedSequence(entropy, spawn_key=key).generate_state(1)[0])

    def _generator(self, purpose: str, index: int) -> torch.Generator:
        return torch.Generator().manual_seed(self._int_seed(purpose, index))

    def _chunks(self, x: np.ndarray):
        dev = torch.device(self.device)
        for start in range(0, len(x), _CHUNK):
            yield torch.from_numpy(x[start:start + _CHUNK]).to(dev)

    def _bar(self, total: int, desc: str) -> tqdm:
        # progress=True shows bars on a terminal only (tqdm's disable=None)
        return tqdm(total=total, desc=desc, unit="step", disable=None if self.progress else True,
                    leave=False)


__all__ = ["AccuracyPredictor"]
