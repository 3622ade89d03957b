"""Zero-cost proxies: scores of an untrained network that track its trained accuracy.

Each proxy follows its paper; the conventions (which layers count, train or eval mode)
follow the reference implementation of Abdelfattah et al., "Zero-Cost Proxies for
Lightweight NAS" (ICLR 2021), where the paper leaves them open:

* ``synflow`` (Tanaka et al., "Pruning neural networks without any data by iteratively
  conserving synaptic flow", NeurIPS 2020): weights replaced by their absolute values,
  an all-ones input, ``R = sum(f(1))``; the score is ``sum |theta * dR/dtheta|`` over the
  conv and linear weights. Data-free. Computed in float64 (deep nets overflow float32)
  with batch norm in eval mode at its initial statistics (the identity, as the reference
  implementation removes it).
* ``nwot`` (Mellor et al., "Neural Architecture Search without Training", ICML 2021):
  for a minibatch, each input's binary code is whether each activation's input is
  positive; ``K[i, j]`` counts the units where codes ``i`` and ``j`` agree; the score is
  ``log |det K|``.
* ``snip`` (Lee et al., "SNIP: Single-shot Network Pruning based on Connection
  Sensitivity", ICLR 2019): ``sum |theta * dL/dtheta|`` of the cross-entropy on a minibatch.
* ``grad_norm`` (Abdelfattah et al. 2021): the sum over layers of the L2 norm of
  ``dL/dW``.
* ``jacov`` (Mellor et al. 2020, arXiv:2006.04647 v1): the correlation matrix of the
  input Jacobians of a minibatch; with its eigenvalues ``l`` and ``k = 1e-5`` the score
  is ``-sum(log(l + k) + 1 / (l + k))`` (negative; higher is better).
* ``flops`` and ``params``: the analytic costs of :mod:`.cost`.

:func:`zero_cost_scores` computes them for many architectures of a space. A proxy that
comes out NaN or infinite for an architecture is recorded as missing (NaN), not raised.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from ..data.datasets import DatasetBundle
from ..data.space import SearchSpace
from ..errors import ConfigError, SpaceError

NETWORK_PROXIES = ("synflow", "nwot", "snip", "grad_norm", "jacov")
COST_PROXIES = ("flops", "params")
PROXIES = NETWORK_PROXIES + COST_PROXIES
JACOV_K = 1e-5
WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Linear)


def check_proxies(names: Sequence[str], where: str | None = None) -> list[str]:
    """The names, checked (``ConfigError`` listing the allowed ones)."""
    names = list(names)
    unknown = [n for n in names if n not in PROXIES]
    if unknown or not names:
        raise ConfigError(
            f"unknown zero-cost proxy {', '.join(map(repr, unknown)) or '(none)'} "
            f"(allowed: {', '.join(PROXIES)})",
            where,
        )
    return names


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, WEIGHTED)]


@torch.no_grad()
def _sensitivity(model: nn.Module) -> float:
    """``sum |theta * grad|`` over the conv and linear weights."""
    return float(sum((w * w.grad).abs().sum() for w in _weights(model) if w.grad is not None))


def synflow(model: nn.Module, in_shape: Sequence[int]) -> float:
    """SynFlow of ``model`` (changed in place: float64, absolute weights, eval mode).

    Batch norm runs at its initial statistics (mean 0, variance 1), whatever passes the
    model saw before, so the score never depends on data.
    """
    model.double().eval()
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.reset_running_stats()
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()
    model.zero_grad()
    model(torch.ones(1, *in_shape, dtype=torch.float64)).sum().backward()
    return _sensitivity(model)


def nwot(model: nn.Module, x: torch.Tensor) -> float:
    """NASWOT: ``log |det K|`` of the activation codes of the batch ``x`` (train mode)."""
    codes: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        codes.append((inputs[0].detach() > 0).flatten(1).to(torch.float64))

    handles = [
        m.register_forward_pre_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU))
    ]
    try:
        with torch.no_grad():
            model.train()(x)
    finally:
        for h in handles:
            h.remove()
    if not codes:
        return math.nan
    c = torch.cat(codes, dim=1)
    kernel = c @ c.T + (1 - c) @ (1 - c).T
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if float(sign) != 0 else -math.inf


def _loss_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    model.train().zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()


def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """SNIP connection sensitivity ``sum |theta * dL/dtheta|`` on one minibatch."""
    _loss_grads(model, x, y)
    return _sensitivity(model)


def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Sum over layers of ``||dL/dW||_2`` on one minibatch."""
    _loss_grads(model, x, y)
    return _grad_norm_of_grads(model)


@torch.no_grad()
def _grad_norm_of_grads(model: nn.Module) -> float:
    return float(sum(w.grad.norm() for w in _weights(model) if w.grad is not None))


def jacov(model: nn.Module, x: torch.Tensor) -> float:
    """Jacobian covariance score of the minibatch ``x`` (train mode)."""
    model.train().zero_grad()
    x = x.clone().requires_grad_(True)
    out = model(x)
    out.backward(torch.ones_like(out))
    jac = x.grad.detach().flatten(1).to(torch.float64).numpy()
    with np.errstate(all="ignore"):
        corr = np.corrcoef(jac)
    if not np.isfinite(corr).all():
        return math.nan
    eig = np.linalg.eigvalsh(corr)
    return float(-np.sum(np.log(eig + JACOV_K) + 1.0 / (eig + JACOV_K)))


def network_proxies(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, names: Sequence[str], in_shape: Sequence[int]
) -> dict[str, float]:
    """The network proxies ``names`` of one untrained model (which they change)."""
    out: dict[str, float] = {}
    if "nwot" in names:
        out["nwot"] = nwot(model, x)
    if "jacov" in names:
        out["jacov"] = jacov(model, x)
    if "snip" in names or "grad_norm" in names:  # one backward pass serves both
        _loss_grads(model, x, y)
        if "snip" in names:
            out["snip"] = _sensitivity(model)
        if "grad_norm" in names:
            out["grad_norm"] = _grad_norm_of_grads(model)
    if "synflow" in names:  # last: it rewrites the weights
        out["synflow"] = synflow(model, in_shape)
    return {k: (v if math.isfinite(v) else math.nan) for k, v in out.items()}


def minibatch(bundle: DatasetBundle, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``size`` training examples drawn with ``seed`` (the same batch for every arch)."""
    from torch.utils.data import TensorDataset

    if not isinstance(bundle.train, TensorDataset):
        raise ConfigError(f"zero-cost proxies need an in-memory dataset; {bundle.name} is not")
    x, y = bundle.train.tensors
    index = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:size]
    return x[index].float(), y[index]


def zero_cost_scores(
    space: SearchSpace,
    archs: Sequence[Mapping[str, Any]] | pd.DataFrame,
    bundle: DatasetBundle | None,
    proxies: Sequence[str] = ("synflow", "nwot"),
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = False,
    workers: int = 1,
) -> pd.DataFrame:
    """Zero-cost proxies of architectures of a space, one row per architecture.

    Args:
        space: a space with a model (``space.model``).
        archs: architectures (arch dicts, configs or a frame; recipe columns are ignored).
        bundle: the dataset for the data-based proxies (``None`` when only ``synflow``,
            ``flops`` and ``params`` are asked for).
        proxies: names from :data:`PROXIES`.
        seed: seed of every network's initialization and of the minibatch.
        batch_size: minibatch size of the data-based proxies.
        progress: show a tqdm bar.
        workers: processes scoring in parallel, one torch thread each (1: this process,
            with one thread while scoring). The scores do not depend on it.

    Returns:
        A frame with one column per proxy (NaN where a proxy came out NaN or infinite)
        and ``zero_cost_seconds`` (the time of that architecture's network proxies).

    Raises:
        ConfigError: unknown proxy, bad ``workers``, or a data-based proxy without a
            dataset.
        SpaceError: the space has no model builder.
    """
    from .cost import space_costs

    names = check_proxies(proxies)
    if space.model is None:
        raise SpaceError(
            f"space {space.name!r} has no model builder: zero-cost proxies need "
            "networks (a tabular space takes them from its table's columns)"
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers={workers!r} must be an integer >= 1")
    frame = archs if isinstance(archs, pd.DataFrame) else pd.DataFrame([dict(a) for a in archs])
    configs = [{k: row[k] for k in space.arch_names} for row in frame.to_dict("records")]
    net_names = [n for n in names if n in NETWORK_PROXIES]
    needs_data = [n for n in net_names if n != "synflow"]
    if needs_data and bundle is None:
        raise ConfigError(f"zero-cost proxies {', '.join(needs_data)} need a dataset")
    x, y = minibatch(bundle, batch_size, seed) if needs_data else (None, None)
    # numpy, not tensors: torch shares tensors with other processes through file
    # descriptors, which run out when many chunks are queued at once
    batch = (None, None) if x is None else (x.numpy(), y.numpy())
    job = (space.to_dict(), net_names, batch, seed)
    chunks = [configs[i : i + CHUNK] for i in range(0, len(configs), CHUNK)]
    rows: list[dict[str, float]] = []
    with tqdm(total=len(configs), desc="zero-cost proxies", unit="arch", disable=not progress) as bar:
        for part in _map_chunks(job, chunks, workers):
            rows.extend(part)
            bar.update(len(part))
    out = pd.DataFrame(rows, index=frame.index)
    cost_names = [n for n in names if n in COST_PROXIES]
    if cost_names:
        costs = space_costs(space, pd.DataFrame(configs, index=frame.index))
        for name in cost_names:
            out[name] = costs[name].to_numpy(dtype=np.float64)
    return out[[*names, "zero_cost_seconds"]]


CHUNK = 32  # architectures per task of a worker process


def _map_chunks(job: tuple, chunks: list[list[dict[str, Any]]], workers: int):
    """Score chunks here (``workers`` 1) or in a spawned process pool, in order."""
    if workers == 1 or len(chunks) < 2:
        for chunk in chunks:
            yield _score_chunk(job, chunk)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        yield from pool.map(_score_chunk, [job] * len(chunks), chunks)


def _score_chunk(job: tuple, chunk: list[dict[str, Any]]) -> list[dict[str, float]]:
    """The network proxies of a chunk of architectures, with one torch thread."""
    from .model import create_model

    space_dict, names, (x, y), seed = job
    space = SearchSpace.from_dict(space_dict)
    if x is not None:
        x, y = torch.from_numpy(x), torch.from_numpy(y)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = []
    try:
        for arch in chunk:
            start = time.perf_counter()
            row: dict[str, float] = {}
            if names:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    model = create_model(space.model, arch, seed=seed)
                    row = network_proxies(model, x, y, names, space.model.in_shape)
            row["zero_cost_seconds"] = time.perf_counter() - start
            rows.append(row)
    finally:
        torch.set_num_threads(previous)
    return rows


__all__ = [
    "COST_PROXIES",
    "NETWORK_PROXIES",
    "PROXIES",
    "check_proxies",
    "grad_norm",
    "jacov",
    "minibatch",
    "network_proxies",
    "nwot",
    "snip",
    "synflow",
    "zero_cost_scores",
]
