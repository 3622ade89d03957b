"""Decode supernet spaces: ``model.options`` and arch variables -> :class:`SupernetSpec`.

Two layouts, each a model builder name:

* ``depth_supernet``: stages of one fixed (shared) MBConv block, which may change the
  width and the resolution, followed by a *NAS block* of ``max_depth`` (K) sub-blocks that
  keep height, width and channels. Variable ``b{i}_depth`` (values in ``0..K``) says how
  many sub-blocks of stage ``i`` run; sub-block ``j`` runs when ``b{i}_depth >= j``.
* ``layer_supernet``: one searched layer per entry of ``widths``; variable ``l{i}_op``
  picks the layer's operation among :data:`LAYER_OPS` (``identity`` skips the layer,
  allowed only where the layer keeps channels and resolution).

The fixed structure (stem width, widths, strides, K, kernel, expansion) comes from the
space's ``model.options``, passed as keyword arguments. Anything a supernet cannot share
raises :class:`~.slots.SupernetError` naming the variable or option.

Example:
    >>> space = read_space("configs/supernet_digits.yaml")  # doctest: +SKIP
    >>> supernet_spec(space).num_paths  # doctest: +SKIP
    9
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Callable, Mapping, Sequence

from ...data.space import SearchSpace
from ...data.variables import Categorical, Float, Integer, Variable
from ..cost import register_space_costs
from ..specs import ACTIVATIONS, BlockSpec, check_in_shape
from .slots import Slot, SupernetError, SupernetSpec


@dataclass(frozen=True)
class LayerOp:
    """A searched layer's MBConv operation (stride, channels and SE come from the layer).

    Args:
        kernel: depthwise kernel size.
        expand: expansion ratio.
    """

    kernel: int
    expand: float


LAYER_OPS: dict[str, LayerOp | None] = {
    "identity": None,
    "mb_k3_e1": LayerOp(3, 1),
    "mb_k3_e3": LayerOp(3, 3),
    "mb_k3_e6": LayerOp(3, 6),
    "mb_k5_e3": LayerOp(5, 3),
    "mb_k5_e6": LayerOp(5, 6),
    "mb_k7_e3": LayerOp(7, 3),
    "mb_k7_e6": LayerOp(7, 6),
}
"""Operations of ``layer_supernet`` layers by name (``None``: identity, the layer is skipped)."""


def depth_supernet_spec(
    variables: Sequence[Variable],
    num_classes: int,
    in_shape: Any,
    *,
    stem_width: int = 16,
    widths: Sequence[int] = (16, 32),
    strides: Sequence[int] | None = None,
    max_depth: int = 3,
    kernel: int = 3,
    expand: float = 3,
    se: bool = False,
    activation: str = "relu",
    dropout: float = 0.0,
) -> SupernetSpec:
    """Decode a depth-choice supernet: per stage a fixed block, then a NAS block of K sub-blocks.

    Args:
        variables: arch variables ``b1_depth .. b{S}_depth`` (``S = len(widths)``).
        num_classes: classifier outputs.
        in_shape: ``(channels, height, width)``.
        stem_width: stem output channels.
        widths: channels of each stage (its fixed block's output and its sub-blocks).
        strides: stride of each stage's fixed block (default 1 for the first, then 2).
        max_depth: K, sub-blocks per NAS block.
        kernel: depthwise kernel of every block.
        expand: expansion ratio of every block.
        se: squeeze-excitation in every block.
        activation: activation name.
        dropout: dropout before the classifier.

    Raises:
        SupernetError: bad options, a missing or unknown variable, or a depth above K.
    """
    stages = _int_list(widths, "widths")
    strides = _strides(strides, len(stages))
    max_depth = _option_int(max_depth, "max_depth", 1)
    block = _block_maker(kernel, expand, se, activation)
    by_name = _by_name(
        variables,
        [f"b{i}_depth" for i in range(1, len(stages) + 1)],
        "depth_supernet",
        "stage depths; widths, strides, kernel and expand are fixed in model.options",
    )
    values = tuple(_values(v) for v in variables)
    slots: list[Slot] = []
    channels = _option_int(stem_width, "stem_width", 1)
    for i, (width, stride) in enumerate(zip(stages, strides), start=1):
        slots.append(Slot(choices=(block(channels, width, stride),)))
        index = by_name[f"b{i}_depth"]
        depths = values[index]
        for d in depths:
            if not isinstance(d, Integral) or isinstance(d, bool) or not 0 <= d <= max_depth:
                raise SupernetError(
                    f"variable 'b{i}_depth': depth {d!r} not allowed (the NAS "
                    f"block has max_depth={max_depth} sub-blocks: 0..{max_depth})"
                )
        sub = block(width, width, 1)
        for j in range(1, max_depth + 1):
            slots.append(Slot(choices=(None, sub), variable=index, select=tuple(int(d >= j) for d in depths)))
        channels = width
    return _spec(variables, values, slots, num_classes, in_shape, stem_width, activation, dropout)


def layer_supernet_spec(
    variables: Sequence[Variable],
    num_classes: int,
    in_shape: Any,
    *,
    stem_width: int = 16,
    widths: Sequence[int] = (16, 16, 32, 32),
    strides: Sequence[int] | None = None,
    se: bool = False,
    activation: str = "relu",
    dropout: float = 0.0,
) -> SupernetSpec:
    """Decode a per-layer operation supernet: variable ``l{i}_op`` picks layer ``i``'s op.

    Args:
        variables: categorical arch variables ``l1_op .. l{L}_op`` (``L = len(widths)``)
            whose choices are names in :data:`LAYER_OPS`.
        num_classes: classifier outputs.
        in_shape: ``(channels, height, width)``.
        stem_width: stem output channels.
        widths: output channels of each layer.
        strides: stride of each layer (default 1 everywhere).
        se: squeeze-excitation in every MBConv op.
        activation: activation name.
        dropout: dropout before the classifier.

    Raises:
        SupernetError: bad options, a missing or unknown variable, an unknown op, or
            ``identity`` at a layer that changes channels or resolution.
    """
    layers = _int_list(widths, "widths")
    strides = _strides(strides if strides is not None else [1] * len(layers), len(layers))
    by_name = _by_name(
        variables,
        [f"l{i}_op" for i in range(1, len(layers) + 1)],
        "layer_supernet",
        "layer ops; widths and strides are fixed in model.options",
    )
    values = tuple(_values(v) for v in variables)
    slots: list[Slot] = []
    channels = _option_int(stem_width, "stem_width", 1)
    for i, (width, stride) in enumerate(zip(layers, strides), start=1):
        name, index = f"l{i}_op", by_name[f"l{i}_op"]
        choices: list[BlockSpec | None] = []
        for op_name in values[index]:
            if not isinstance(op_name, str) or op_name not in LAYER_OPS:
                raise SupernetError(
                    f"variable '{name}': unknown op {op_name!r} (allowed: {', '.join(LAYER_OPS)})"
                )
            op = LAYER_OPS[op_name]
            if op is None and (stride != 1 or channels != width):
                raise SupernetError(
                    f"variable '{name}': choice 'identity' at a layer that maps "
                    f"{channels} -> {width} channels with stride {stride} "
                    "(identity needs stride 1 and equal channels)"
                )
            choices.append(
                None
                if op is None
                else _block_maker(op.kernel, op.expand, se, activation)(channels, width, stride)
            )
        slots.append(Slot(choices=tuple(choices), variable=index, select=tuple(range(len(choices)))))
        channels = width
    return _spec(variables, values, slots, num_classes, in_shape, stem_width, activation, dropout)


SUPERNET_SPECS: dict[str, Callable[..., SupernetSpec]] = {
    "depth_supernet": depth_supernet_spec,
    "layer_supernet": layer_supernet_spec,
}
"""Spec decoders by model builder name; their keyword arguments are the ``model.options``."""


def supernet_spec(space: SearchSpace, dropout: float = 0.0) -> SupernetSpec:
    """Decode a supernet space (``model.builder`` one of :data:`SUPERNET_SPECS`).

    Raises:
        SupernetError: no model, another builder, recipe variables (a supernet trains
            one recipe), unknown options, or arch variables it cannot share.
    """
    try:
        if space.model is None or space.model.builder not in SUPERNET_SPECS:
            raise _not_a_supernet(space.model.builder if space.model else None)
        if space.recipe:
            raise SupernetError(
                f"variable '{space.recipe[0].name}': recipe variables cannot be "
                "shared by a weight-sharing supernet (it trains one recipe); "
                "search recipes with the train evaluator"
            )
        return spec_from_options(
            space.model.builder,
            space.arch,
            space.model.num_classes,
            space.model.in_shape,
            dict(space.model.options),
            dropout,
        )
    except SupernetError as exc:
        raise exc.at(space.source) if space.source else exc from None


def _not_a_supernet(builder: str | None) -> SupernetError:
    """The error for a ``model.builder`` that is no supernet builder, listing every builder.

    A name that is no builder at all (a typo) is told apart from a standalone builder
    such as ``mbconv``, with the closest builder name when there is one.
    """
    from ..model import MODEL_BUILDERS, unknown_builder  # supernet builders register on import

    need = f"a supernet space needs {' or '.join(SUPERNET_SPECS)}"
    if builder is None:
        return SupernetError(f"the space has no 'model': {need}")
    if builder not in MODEL_BUILDERS:
        return SupernetError(unknown_builder(builder, need))
    return SupernetError(
        f"model.builder={builder!r} is a standalone builder, not a supernet "
        f"builder (builders: {', '.join(sorted(MODEL_BUILDERS))}); {need}"
    )


def arch_spec(
    builder: str,
    arch: Mapping[str, Any],
    num_classes: int,
    in_shape: Any,
    options: Mapping[str, Any],
    dropout: float = 0.0,
) -> SupernetSpec:
    """A one-path spec for a single arch dict (the standalone builders' decoder).

    Raises:
        SupernetError: see :func:`supernet_spec`.
    """
    if not isinstance(arch, Mapping):
        raise SupernetError(f"an arch must be a mapping of variable names to values, got {arch!r}")
    variables = []
    for name, value in arch.items():
        value = value.item() if hasattr(value, "item") else value
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 2.0 from a table column means depth 2
        if not isinstance(value, (str, int, float, bool)):
            raise SupernetError(f"arch variable '{name}': value {value!r} is not a scalar")
        variables.append(Categorical(str(name), (value,)))
    return spec_from_options(builder, variables, num_classes, in_shape, options, dropout)


def spec_from_options(
    builder: str,
    variables: Sequence[Variable],
    num_classes: int,
    in_shape: Any,
    options: Mapping[str, Any],
    dropout: float = 0.0,
) -> SupernetSpec:
    """Call the spec decoder of ``builder`` with ``options``, checking the option names.

    Raises:
        SupernetError: unknown builder or option.
    """
    decode = SUPERNET_SPECS.get(builder)
    if decode is None:
        raise _not_a_supernet(builder)
    allowed = [
        p.name
        for p in inspect.signature(decode).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name != "dropout"
    ]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise SupernetError(
            f"model.options.{unknown[0]} is not an option of {builder} (allowed: {', '.join(allowed)})"
        )
    return decode(variables, num_classes, in_shape, dropout=dropout, **dict(options))


def supernet_costs(space: SearchSpace, configs: Any) -> Any:
    """FLOPs and params of the standalone network of each config of a supernet space.

    Has the signature of a search cost function (``cost_fn(space, frame)``), so candidate
    pools and strategies can cut supernet spaces to constraints. Recipe columns are
    ignored; each distinct architecture is costed once.

    Args:
        space: a supernet space (recipe variables allowed: they do not change costs).
        configs: a DataFrame or a list of configs with the arch variables.

    Returns:
        A DataFrame with int64 columns ``flops`` and ``params`` (a DataFrame keeps its index).

    Raises:
        SupernetError: a space the supernet cannot express, or a value outside it.
    """
    import pandas as pd

    arch_space = SearchSpace(space.arch, name=space.name, model=space.model, source=space.source)
    spec = supernet_spec(arch_space)
    configs = configs if isinstance(configs, pd.DataFrame) else list(configs)
    index = configs.index if isinstance(configs, pd.DataFrame) else pd.RangeIndex(len(configs))
    cols = arch_space.columns(configs, arch_space.arch_names)
    cache: dict[tuple[int, ...], tuple[int, int]] = {}
    rows = []
    for row in zip(*(cols[n].tolist() for n in arch_space.arch_names)):
        path = spec.path(dict(zip(arch_space.arch_names, row)))
        if path not in cache:
            cache[path] = spec.costs(path, space.model.in_shape)
        rows.append(cache[path])
    return pd.DataFrame(rows, columns=["flops", "params"], index=index, dtype="int64")


for _builder in SUPERNET_SPECS:
    register_space_costs(_builder, supernet_costs)


# -- helpers ---------------------------------------------------------------------------------
def _spec(
    variables: Sequence[Variable],
    values: tuple[tuple[Any, ...], ...],
    slots: list[Slot],
    num_classes: int,
    in_shape: Any,
    stem_width: int,
    activation: str,
    dropout: float,
) -> SupernetSpec:
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise SupernetError(
            f"model.options.activation={activation!r} not allowed (one of {', '.join(ACTIVATIONS)})"
        )
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise SupernetError(f"dropout={dropout!r} must be a number in [0, 1)")
    channels, *spatial = check_in_shape(tuple(in_shape))
    return SupernetSpec(
        in_channels=channels,
        stem_width=int(stem_width),
        activation=activation,
        num_classes=_option_int(num_classes, "num_classes", 1),
        variables=tuple(variables),
        values=values,
        slots=tuple(slots),
        dropout=float(dropout),
        spatial_dims=len(spatial),
    )


def _by_name(variables: Sequence[Variable], expected: list[str], builder: str, what: str) -> dict[str, int]:
    names = [v.name for v in variables]
    for name in names:
        if name not in expected:
            why = (
                "width choices change channel counts, which weight sharing cannot express"
                if name.endswith("_width")
                else f"{builder} searches only {what}"
            )
            raise SupernetError(
                f"variable '{name}': not a supernet choice ({why}; expected variables: {', '.join(expected)})"
            )
    missing = [n for n in expected if n not in names]
    if missing:
        raise SupernetError(
            f"variable '{missing[0]}' is missing: {builder} with "
            f"{len(expected)} stages or layers needs {', '.join(expected)}"
        )
    return {n: i for i, n in enumerate(names)}


def _values(var: Variable) -> tuple[Any, ...]:
    if isinstance(var, Categorical):
        return tuple(var.choices)
    if isinstance(var, Integer):
        return tuple(range(var.low, var.high + 1, var.step))
    kind = "a float" if isinstance(var, Float) else type(var).__name__
    raise SupernetError(
        f"variable '{var.name}': {kind} variable cannot choose a supernet path (use int or categorical)"
    )


def _block_maker(kernel: Any, expand: Any, se: Any, activation: str) -> Callable[[int, int, int], BlockSpec]:
    kernel = _option_int(kernel, "kernel", 1)
    if kernel % 2 == 0:
        raise SupernetError(f"model.options.kernel={kernel} must be odd")
    if isinstance(expand, bool) or not isinstance(expand, (int, float)) or not expand >= 1:
        raise SupernetError(f"model.options.expand={expand!r} must be a number >= 1")
    if not isinstance(se, bool):
        raise SupernetError(f"model.options.se={se!r} must be true or false")
    expand = int(expand) if float(expand).is_integer() else float(expand)

    def make(cin: int, cout: int, stride: int) -> BlockSpec:
        return BlockSpec(
            in_channels=cin,
            out_channels=cout,
            kernel=kernel,
            stride=stride,
            expand=expand,
            se=se,
            activation=activation,
        )

    return make


def _option_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise SupernetError(f"model.options.{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def _int_list(values: Any, name: str) -> list[int]:
    if not isinstance(values, (list, tuple)) or not values:
        raise SupernetError(f"model.options.{name}={values!r} must be a non-empty list of integers")
    return [_option_int(v, name, 1) for v in values]


def _strides(strides: Any, n: int) -> list[int]:
    strides = [1] + [2] * (n - 1) if strides is None else strides
    if (
        not isinstance(strides, (list, tuple))
        or len(strides) != n
        or any(s not in (1, 2) or isinstance(s, bool) for s in strides)
    ):
        raise SupernetError(
            f"model.options.strides={strides!r} must list {n} strides of 1 or 2 (one per entry of widths)"
        )
    return [int(s) for s in strides]


__all__ = [
    "LAYER_OPS",
    "SUPERNET_SPECS",
    "LayerOp",
    "arch_spec",
    "depth_supernet_spec",
    "layer_supernet_spec",
    "spec_from_options",
    "supernet_costs",
    "supernet_spec",
]
