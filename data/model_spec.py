"""Which builder turns the arch part of a config into a network, with its fixed options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import SpaceError

MODEL_KEYS = ("builder", "in_shape", "num_classes", "options")
OPTIONAL_MODEL_KEYS = ("options",)


@dataclass(frozen=True)
class ModelSpec:
    """Which builder turns the arch part of a config into a network, and for what data.

    Args:
        builder: name of a model builder (``mbconv``).
        in_shape: input shape without the batch dimension: ``(C, H, W)`` for images, e.g.
            ``(1, 8, 8)``, or ``(C, L)`` for sequences, e.g. ``(1, 40)``.
        num_classes: number of output classes.
        options: keyword arguments of the builder that the space does not search (the
            fixed structure, e.g. a supernet's stem width and strides); stored read-only,
            lists as tuples. Part of :meth:`to_dict` (and so of a space's fingerprint)
            only when not empty.
    """

    builder: str
    in_shape: tuple[int, ...]
    num_classes: int
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        shape = self.in_shape
        if (
            not isinstance(shape, (list, tuple))
            or len(shape) not in (2, 3)
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
        ):
            raise SpaceError(
                f"model.in_shape={shape!r} must be positive integers [C, H, W] (images) or [C, L] (sequences)"
            )
        object.__setattr__(self, "in_shape", tuple(shape))
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise SpaceError(f"model.num_classes={self.num_classes!r} must be an integer >= 2")
        if not isinstance(self.builder, str):
            raise SpaceError(f"model.builder={self.builder!r} must be a name")
        options = {} if self.options is None else self.options
        if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
            raise SpaceError(
                f"model.options={self.options!r} must be a mapping of builder "
                "keyword arguments (names to values)"
            )
        object.__setattr__(self, "options", _freeze(options))

    def to_dict(self) -> dict[str, Any]:
        """Definition as written in a space YAML file."""
        out = {"builder": self.builder, "in_shape": list(self.in_shape), "num_classes": self.num_classes}
        if self.options:
            out["options"] = _thaw(self.options)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "ModelSpec | None":
        """The spec of a space file's ``model`` mapping (``None`` for a tabular space).

        Raises:
            SpaceError: not a mapping, or unknown or missing keys.
        """
        if data is None:
            return None
        if not isinstance(data, dict):
            raise SpaceError(f"'model' must be a mapping with keys {', '.join(MODEL_KEYS)}")
        unknown = sorted(set(data) - set(MODEL_KEYS))
        missing = [k for k in MODEL_KEYS if k not in data and k not in OPTIONAL_MODEL_KEYS]
        if unknown or missing:
            required = [k for k in MODEL_KEYS if k not in OPTIONAL_MODEL_KEYS]
            raise SpaceError(
                f"'model' needs the keys {', '.join(required)} and optionally "
                f"{', '.join(OPTIONAL_MODEL_KEYS)} "
                f"(unknown: {', '.join(unknown) or '-'}; missing: {', '.join(missing) or '-'})"
            )
        return cls(**data)


class FrozenOptions(dict):
    """A read-only dict (``ModelSpec.options``): mutation raises ``TypeError``; picklable."""

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("model options are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore
    __ior__ = _readonly  # type: ignore

    def __reduce__(self) -> tuple[Any, ...]:
        return FrozenOptions, (dict(self),)

    def __copy__(self) -> "FrozenOptions":
        return self

    def __deepcopy__(self, memo: dict) -> "FrozenOptions":
        return self


def _freeze(value: Any) -> Any:
    """Read-only copy: mappings become :class:`FrozenOptions`, lists become tuples."""
    if isinstance(value, Mapping):
        return FrozenOptions({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    """Inverse of :func:`_freeze`: plain dicts and lists (YAML and JSON ready)."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value
