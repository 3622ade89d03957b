"""Analytic FLOPs and parameter counts of MBConv networks, without building them.

The counts equal fvcore's on the model :func:`.model.build_model` builds, in eval mode
with a batch of one (``tests/test_model_cost.py`` checks hundreds of random archs):

* convolution: ``prod(weight.shape) * out_height * out_width`` (bias not counted),
* linear: ``in_features * out_features``,
* batch norm in eval mode: ``2 * numel`` of its input (affine),
* adaptive average pooling: ``numel`` of its input,
* activations, the SE gate multiply and the residual add: not counted;

parameters are every trainable tensor (conv weights, BN affine, SE biases, classifier).

:func:`flops`, :func:`params` and :func:`arch_costs` (both at once) decode one arch;
:func:`costs` scores whole tables of archs at once with numpy (a few million archs per
second), which is what searches that rank large candidate pools need.

Example:
    >>> arch = {"stem_width": 8, "activation": "relu", "s1_width": 8, "s1_depth": 1,
    ...         "s1_kernel": 3, "s1_expand": 1, "s1_se": False}
    >>> flops(arch, in_shape=(1, 8, 8), num_classes=10), params(arch, in_shape=(1, 8, 8), num_classes=10)
    (16976, 346)
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from ..data.space import ModelSpec, SearchSpace
from ..errors import SpaceError
from .spec_cost import spec_costs
from .specs import (
    ACTIVATIONS,
    STAGE_FIELDS,
    STEM_KERNEL,
    STRIDES,
    check_in_shape,
    max_kernel,
    network_spec,
    num_stages,
)

Configs = Union[Sequence[Mapping[str, Any]], pd.DataFrame]

COST_BUILDERS: tuple[str, ...] = ("mbconv",)
"""Model builders whose costs this module computes."""

SpaceCostFn = Callable[[SearchSpace, Configs], pd.DataFrame]
SPACE_COSTS: dict[str, SpaceCostFn] = {}
"""Cost functions of other model builders (the supernet's register on import)."""


def register_space_costs(builder: str, fn: SpaceCostFn) -> None:
    """Let :func:`space_costs` cost the spaces of model builder ``builder`` with ``fn``."""
    SPACE_COSTS[builder] = fn


def arch_costs(arch: Mapping[str, Any], *, in_shape: Any, num_classes: int) -> tuple[int, int]:
    """``(flops, params)`` of one arch, decoding it once (cheaper than both calls).

    Args:
        arch: the arch part of a config.
        in_shape: ``(channels, height, width)`` for images, ``(channels, length)`` for
            sequences.
        num_classes: classifier outputs.

    Raises:
        DatasetError: bad ``in_shape``.
        SpaceError: a missing or invalid arch variable, or a 1D kernel too large for its
            sequence length.
    """
    channels, *spatial = check_in_shape(in_shape)
    spec = network_spec(arch, num_classes, channels, spatial_dims=len(spatial))
    return spec_costs(spec, *spatial)


def flops(arch: Mapping[str, Any], *, in_shape: Any, num_classes: int) -> int:
    """FLOPs (fvcore convention: multiply-adds) of one forward pass of a single input.

    Arguments and errors as :func:`arch_costs`.
    """
    return arch_costs(arch, in_shape=in_shape, num_classes=num_classes)[0]


def params(arch: Mapping[str, Any], *, in_shape: Any, num_classes: int) -> int:
    """Number of trainable parameters (only the channels of ``in_shape`` matter).

    Arguments and errors as :func:`arch_costs`.
    """
    return arch_costs(arch, in_shape=in_shape, num_classes=num_classes)[1]


def costs(configs: Configs, model_spec: ModelSpec) -> pd.DataFrame:
    """FLOPs and parameters of many archs at once, computed over whole columns.

    Args:
        configs: a list of configs (dicts) or a DataFrame with one column per arch
            variable; other keys or columns (e.g. recipe variables) are ignored.
        model_spec: builder, input shape and number of classes (``space.model``).

    Returns:
        A DataFrame with int64 columns ``flops`` and ``params``, one row per config
        (a DataFrame input keeps its index).

    Raises:
        SpaceError: a missing arch variable or an invalid value (naming the variable
            and row), or a builder without analytic costs.
    """
    if isinstance(configs, pd.DataFrame):
        names = configs.columns
        index = configs.index
        get = configs.__getitem__
    else:
        configs = list(configs)
        names = configs[0].keys() if configs else ()
        index = pd.RangeIndex(len(configs))
        get = lambda key: _list_column(configs, key)  # noqa: E731
    if len(index) == 0:
        return pd.DataFrame({"flops": np.zeros(0, np.int64), "params": np.zeros(0, np.int64)}, index=index)
    stages = num_stages(names)
    if stages == 0:
        raise SpaceError("arch is missing variable 's1_width'")
    keys = ["stem_width", "activation"] + [f"s{i}_{f}" for i in range(1, stages + 1) for f in STAGE_FIELDS]
    missing = [k for k in keys if k not in names]
    if missing:
        raise SpaceError(f"arch is missing variable(s) {', '.join(map(repr, missing))}")
    keys += [k for k in (f"s{i}_stride" for i in range(1, stages + 1)) if k in names]
    return _column_costs({k: get(k) for k in keys}, stages, model_spec, index)


def space_costs(space: SearchSpace, configs: Configs) -> pd.DataFrame:
    """:func:`costs` of configs of a space, with the space's model spec.

    Raises:
        SpaceError: the space has no model (a tabular space), or see :func:`costs`.
    """
    if space.model is None:
        raise SpaceError(f"space {space.name!r} has no model: its costs cannot be computed")
    builder = space.model.builder
    if builder not in COST_BUILDERS:
        if builder not in SPACE_COSTS:
            raise SpaceError(
                f"space {space.name!r}: no cost function for model builder {builder!r} "
                f"(known: {', '.join(COST_BUILDERS + tuple(SPACE_COSTS))})"
            )
        return SPACE_COSTS[builder](space, configs)
    cols = space.columns(configs, space.arch_names)
    frame = configs if isinstance(configs, pd.DataFrame) else pd.DataFrame(cols)
    return costs(frame, space.model)


def _list_column(configs: Sequence[Mapping[str, Any]], key: str) -> pd.Series:
    try:
        return pd.Series([c[key] for c in configs])
    except KeyError:
        row = next(i for i, c in enumerate(configs) if key not in c)
        raise SpaceError(f"arch is missing variable {key!r} (row {row})") from None


def _column_costs(cols: dict[str, Any], stages: int, model_spec: ModelSpec, index: pd.Index) -> pd.DataFrame:
    if not isinstance(model_spec, ModelSpec):
        raise SpaceError(f"expected a ModelSpec (a space's 'model'), got {model_spec!r}")
    if model_spec.builder not in COST_BUILDERS:
        raise SpaceError(
            f"no analytic costs for model.builder={model_spec.builder!r} (one of {', '.join(COST_BUILDERS)})"
        )
    channels, *spatial = model_spec.in_shape
    d, n = len(spatial), len(index)
    _check_activation(cols["activation"], index)
    c = _int_column(cols, "stem_width", 1, index)
    s = STEM_KERNEL
    area = math.prod(spatial)
    total_f = c * (area * (channels * s**d + 2))
    total_p = c * (channels * s**d + 2)
    sizes = [np.full(n, size, dtype=np.int64) for size in spatial]
    cin = c
    for i in range(1, stages + 1):
        width = _int_column(cols, f"s{i}_width", 1, index)
        depth = _int_column(cols, f"s{i}_depth", 1, index)
        kernel = _int_column(cols, f"s{i}_kernel", 1, index)
        _raise_rows(f"s{i}_kernel", kernel, kernel % 2 == 0, "an odd kernel size", index)
        expand = _expand_column(cols, f"s{i}_expand", index)
        se = _bool_column(cols, f"s{i}_se", index)
        stride = _stride_column(cols, i, n, index)
        if d == 1:  # every later block of the stage sees the shorter length: check both
            first, later = sizes[0], (sizes[0] - 1) // stride + 1
            limit = np.where(depth > 1, np.minimum(max_kernel(first), max_kernel(later)), max_kernel(first))
            _raise_rows(
                f"s{i}_kernel",
                kernel,
                kernel > limit,
                f"at most {int(limit[int(np.argmax(kernel > limit))])} at this stage's sequence length",
                index,
            )
        out = [(size - 1) // stride + 1 for size in sizes]
        area_in, area_out = math.prod(sizes), math.prod(out)
        kk2 = kernel**d + 2
        # first block: may change channels and resolution; the other depth-1 are equal
        f0, p0 = _blocks(cin, width, kk2, expand, se, area_in, area_out)
        f1, p1 = _blocks(width, width, kk2, expand, se, area_out, area_out)
        total_f += f0 + (depth - 1) * f1
        total_p += p0 + (depth - 1) * p1
        cin, sizes = width, out
    total_f += cin * (math.prod(sizes) + model_spec.num_classes)
    total_p += (cin + 1) * model_spec.num_classes
    return pd.DataFrame(
        {"flops": total_f.astype(np.int64, copy=False), "params": total_p.astype(np.int64, copy=False)},
        index=index,
    )


def _stride_column(cols: dict[str, Any], stage: int, n: int, index: pd.Index) -> np.ndarray:
    """``s{i}_stride`` per row, or the default stride of the stage (see ``specs.stage_stride``)."""
    key = f"s{stage}_stride"
    if key not in cols:
        return np.full(n, 2 if stage > 1 else 1, dtype=np.int64)
    values = _int_column(cols, key, 1, index)
    _raise_rows(key, values, ~np.isin(values, STRIDES), f"one of {', '.join(map(str, STRIDES))}", index)
    return values


def _blocks(
    cin: np.ndarray,
    cout: np.ndarray,
    kk2: np.ndarray,
    expand: np.ndarray,
    se: np.ndarray,
    hw_in: Any,
    hw_out: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (flops, params) of one MBConv block (see :func:`_block_costs`)."""
    if expand.dtype.kind == "f":
        hidden = np.rint(cin * expand).astype(np.int64)
    else:
        hidden = cin * expand
    has_expansion = expand != 1
    p = hidden * (kk2 + cout) + 2 * cout + has_expansion * (hidden * (cin + 2))
    f = hidden * (hw_out * kk2) + cout * (hw_out * (hidden + 2))
    f += has_expansion * (hidden * (hw_in * (cin + 2)))
    if se.any():
        v = hidden // 4
        sq = np.maximum(8, (v + 4) // 8 * 8)
        sq += 8 * (sq < 0.9 * v)
        f += se * (hidden * (hw_out + 2 * sq))
        p += se * (2 * hidden * sq + sq + hidden)
    return f, p


def _raise_rows(key: str, values: Any, bad: np.ndarray, allowed: str, index: pd.Index) -> None:
    if bad.any():
        row = int(np.argmax(bad))
        raise SpaceError(
            f"arch variable {key!r}: value {np.asarray(values)[row]!r} not allowed "
            f"({allowed}) (row {index[row]})"
        )


def _int_column(cols: dict[str, Any], key: str, minimum: int, index: pd.Index) -> np.ndarray:
    values = np.asarray(cols[key])
    allowed = f"an integer >= {minimum}"
    if values.dtype.kind == "f":
        _raise_rows(key, values, ~(np.isfinite(values) & (values == np.round(values))), allowed, index)
        values = values.astype(np.int64)
    elif values.dtype.kind not in "iu":
        _raise_rows(key, values, np.array([not _is_int(v) for v in values]), allowed, index)
        values = values.astype(np.int64)
    values = values.astype(np.int64, copy=False)
    _raise_rows(key, values, values < minimum, allowed, index)
    return values


def _expand_column(cols: dict[str, Any], key: str, index: pd.Index) -> np.ndarray:
    values = np.asarray(cols[key])
    allowed = "an expansion ratio >= 1"
    if values.dtype.kind not in "iuf":
        _raise_rows(key, values, np.array([not _is_real(v) for v in values]), allowed, index)
        values = values.astype(np.float64)
    if values.dtype.kind == "f" and np.all(values == np.round(values)):
        values = values.astype(np.int64)
    _raise_rows(key, values, ~(values >= 1), allowed, index)
    return values.astype(np.int64, copy=False) if values.dtype.kind in "iu" else values


def _bool_column(cols: dict[str, Any], key: str, index: pd.Index) -> np.ndarray:
    values = np.asarray(cols[key])
    if values.dtype.kind != "b":
        bad = np.array([not isinstance(v, (bool, np.bool_)) for v in values])
        _raise_rows(key, values, bad, "true or false", index)
        values = values.astype(bool)
    return values


def _check_activation(values: Any, index: pd.Index) -> None:
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    bad = ~series.isin(ACTIVATIONS).to_numpy()
    _raise_rows("activation", series.to_numpy(), bad, f"one of {', '.join(ACTIVATIONS)}", index)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


# -- reference -------------------------------------------------------------------------
def fvcore_costs(model: Any, in_shape: Any) -> tuple[int, int]:
    """``(flops, params)`` measured by fvcore on a batch of one zero input, in eval mode.

    The reference the analytic counts are tested against; slow (it traces the model).
    fvcore's warnings about unsupported (uncounted) operators are silenced; the model's
    training mode is restored afterwards. fvcore counts ``adaptive_avg_pool2d`` (one
    FLOP per input element) but has no handle for ``adaptive_avg_pool1d``; the same
    handle is registered for it, so 1D and 2D networks are counted by one convention.

    Args:
        model: a ``torch.nn.Module``.
        in_shape: ``(channels, height, width)`` or ``(channels, length)``.
    """
    import torch
    from fvcore.nn import FlopCountAnalysis, parameter_count
    from fvcore.nn.jit_handles import elementwise_flop_counter

    shape = check_in_shape(in_shape)
    was_training = model.training
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    model.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            analysis = FlopCountAnalysis(model, torch.zeros(1, *shape, device=device))
            analysis.set_op_handle("aten::adaptive_avg_pool1d", elementwise_flop_counter(1, 0))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            analysis.tracer_warnings("none")
            total = int(analysis.total())
    finally:
        model.train(was_training)
    return total, int(parameter_count(model)[""])


__all__ = [
    "COST_BUILDERS",
    "arch_costs",
    "costs",
    "flops",
    "fvcore_costs",
    "params",
    "space_costs",
    "spec_costs",
]
