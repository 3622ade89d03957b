"""Weight-sharing supernets: every architecture of a space is a path through one network.

:class:`Supernet` holds one MBConv block (:class:`~jointnas.recipes.model.MBConv`) per choice of every
slot of a :class:`~.slots.SupernetSpec`; ``supernet(x, path)`` runs the stem, the
blocks the path chooses and the classifier. Blocks are shared by every path that runs
them (a depth NAS block's first sub-block by all its depths), so one training run trains
all architectures at once, and each can be scored with the weights it inherits
(:func:`.training.evaluate_paths`).

``share_first=k`` shares only the stem and the first ``k`` slots; the later slots and the
classifier get a private copy per path (partial sharing, to study where sharing hurts).

The standalone network of a path is an :class:`~jointnas.recipes.model.MBConvNet` of the
same blocks with fresh weights: the builders ``depth_supernet`` and ``layer_supernet``
registered in :data:`~jointnas.recipes.model.MODEL_BUILDERS`, so
:func:`~jointnas.recipes.train.train_and_evaluate` trains any architecture of a supernet
space from scratch.

Example:
    >>> import torch
    >>> from jointnas.data.space_io import read_space
    >>> space = read_space("configs/supernet_digits.yaml")  # doctest: +SKIP
    >>> net = Supernet.from_space(space, seed=0)  # doctest: +SKIP
    >>> net(torch.zeros(2, 1, 8, 8), (0, 2)).shape  # doctest: +SKIP
    torch.Size([2, 10])
"""

from __future__ import annotations

import io
import os
from typing import Any, Mapping

import torch
from torch import nn

from ...data.atomic import write_bytes
from ...data.space import SearchSpace
from ...errors import ConfigError, load_failure
from ..model import MODEL_BUILDERS, MBConv, MBConvNet, _init_weights, pooled_classifier, stem_layer
from .decode import arch_spec, supernet_spec
from .slots import Path, SupernetError, SupernetSpec

MAX_PRIVATE_PATHS = 1024
"""Most paths ``share_first`` may give a private tail (each holds its own weights)."""


class Supernet(nn.Module):
    """A network whose paths are the architectures of a supernet space.

    Args:
        spec: the decoded supernet (see :func:`.decode.supernet_spec`).
        share_first: ``None`` shares every block; ``k`` shares the stem and the first
            ``k`` slots only, and gives every path a private copy of the rest (slots
            ``k+1..`` and the classifier).
        seed: seed of a private generator for the weight initialization.

    Raises:
        SupernetError: ``share_first`` out of range, or too many paths for private tails.
    """

    def __init__(self, spec: SupernetSpec, share_first: int | None = None, seed: int | None = None) -> None:
        super().__init__()
        n_slots = len(spec.slots)
        if share_first is not None and (
            isinstance(share_first, bool)
            or not isinstance(share_first, int)
            or not 0 <= share_first <= n_slots
        ):
            raise SupernetError(
                f"share_first={share_first!r} must be an integer in 0..{n_slots} "
                "(block slots of this supernet)"
            )
        if share_first is not None and spec.num_paths > MAX_PRIVATE_PATHS:
            raise SupernetError(
                f"share_first={share_first} gives each of the {spec.num_paths} "
                f"paths private weights (at most {MAX_PRIVATE_PATHS})"
            )
        self.spec, self.share_first = spec, share_first
        self.n_shared = n_slots if share_first is None else share_first
        self.stem = stem_layer(spec)
        self.blocks = nn.ModuleList(
            nn.ModuleList(nn.Identity() if b is None else MBConv(b, spec.spatial_dims) for b in slot.choices)
            for slot in spec.slots[: self.n_shared]
        )
        last = spec.network_spec(spec.paths()[0]).last_channels
        self.head = _head(last, spec) if share_first is None else None
        self.tails = (
            None
            if share_first is None
            else nn.ModuleDict({path_key(p): self._tail(p, last) for p in spec.paths()})
        )
        _init_weights(self, None if seed is None else torch.Generator().manual_seed(seed))

    @classmethod
    def from_space(
        cls, space: SearchSpace, share_first: int | None = None, dropout: float = 0.0, seed: int | None = None
    ) -> "Supernet":
        """The supernet of a space (``model.builder`` ``depth_supernet`` or ``layer_supernet``).

        Raises:
            SupernetError: a space the supernet cannot express (see
                :func:`.decode.supernet_spec`).
        """
        return cls(supernet_spec(space, dropout), share_first=share_first, seed=seed)

    def paths(self) -> list[Path]:
        """Every path of the supernet."""
        return self.spec.paths()

    def forward(self, x: torch.Tensor, path: Path) -> torch.Tensor:
        """Logits of the architecture ``path`` (a tuple of value indices, see the spec)."""
        active = self.spec.active(path)
        x = self.stem(x)
        for slot, c in zip(self.blocks, active[: self.n_shared]):
            if c is not None:
                x = slot[c](x)
        if self.tails is not None:
            return self.tails[path_key(path)](x)
        return self.head(x)

    def path_modules(self, path: Path) -> list[nn.Module]:
        """The modules a path runs: stem, its shared blocks, its tail or the classifier."""
        active = self.spec.active(path)
        out: list[nn.Module] = [self.stem]
        out += [slot[c] for slot, c in zip(self.blocks, active[: self.n_shared]) if c is not None]
        out.append(self.head if self.tails is None else self.tails[path_key(path)])
        return out

    def _tail(self, path: Path, last: int) -> nn.Sequential:
        blocks = [
            MBConv(slot.choices[c], self.spec.spatial_dims)
            for slot, c in zip(self.spec.slots[self.n_shared :], self.spec.active(path)[self.n_shared :])
            if c is not None
        ]
        return nn.Sequential(*blocks, _head(last, self.spec))


def path_key(path: Path) -> str:
    """A module-name-safe key of a path, e.g. ``p0_2``."""
    return "p" + "_".join(str(int(i)) for i in path)


def _head(channels: int, spec: SupernetSpec) -> nn.Sequential:
    return pooled_classifier(channels, spec.num_classes, spec.dropout, spec.spatial_dims)


# -- standalone networks -------------------------------------------------------------------
def _standalone(
    builder: str,
    arch: Mapping[str, Any],
    num_classes: int,
    in_shape: Any,
    dropout: float,
    seed: int | None,
    options: Mapping[str, Any],
) -> MBConvNet:
    spec = arch_spec(builder, arch, num_classes, in_shape, options, dropout)
    model = MBConvNet(spec.network_spec(spec.paths()[0]))
    _init_weights(model, None if seed is None else torch.Generator().manual_seed(seed))
    return model


def build_depth_supernet_net(
    arch: Mapping[str, Any],
    num_classes: int,
    in_shape: Any,
    dropout: float = 0.0,
    seed: int | None = None,
    **options: Any,
) -> MBConvNet:
    """The standalone network of one architecture of a ``depth_supernet`` space.

    Args:
        arch: ``{"b1_depth": ..., "b2_depth": ...}``.
        num_classes: classifier outputs.
        in_shape: ``(channels, height, width)``.
        dropout: dropout before the classifier.
        seed: weight-initialization seed.
        **options: the space's ``model.options`` (see
            :func:`.decode.depth_supernet_spec`).

    Raises:
        SupernetError: a bad option, a missing or unknown variable, a depth above K.
    """
    return _standalone("depth_supernet", arch, num_classes, in_shape, dropout, seed, options)


def build_layer_supernet_net(
    arch: Mapping[str, Any],
    num_classes: int,
    in_shape: Any,
    dropout: float = 0.0,
    seed: int | None = None,
    **options: Any,
) -> MBConvNet:
    """The standalone network of one architecture of a ``layer_supernet`` space.

    Args:
        arch: ``{"l1_op": "mb_k3_e3", ...}``.
        num_classes: classifier outputs.
        in_shape: ``(channels, height, width)``.
        dropout: dropout before the classifier.
        seed: weight-initialization seed.
        **options: the space's ``model.options`` (see
            :func:`.decode.layer_supernet_spec`).

    Raises:
        SupernetError: a bad option, a missing or unknown variable, an unknown op.
    """
    return _standalone("layer_supernet", arch, num_classes, in_shape, dropout, seed, options)


MODEL_BUILDERS["depth_supernet"] = build_depth_supernet_net
MODEL_BUILDERS["layer_supernet"] = build_layer_supernet_net


# -- files ---------------------------------------------------------------------------------
def save_supernet(
    path: str | os.PathLike, supernet: Supernet, space: SearchSpace, meta: Mapping[str, Any] | None = None
) -> None:
    """Write a supernet's weights with the space fingerprint and plain metadata (atomic).

    Args:
        path: the ``.pt`` file.
        supernet: the trained supernet.
        space: the (arch-only) space it was built from.
        meta: plain metadata (numbers, strings, lists) kept with the weights.
    """
    payload = {
        "state_dict": supernet.state_dict(),
        "fingerprint": space.fingerprint(),
        "share_first": supernet.share_first,
        "dropout": supernet.spec.dropout,
        "meta": dict(meta or {}),
    }
    buffer = io.BytesIO()  # serialize first: a full disk is then a plain OSError
    torch.save(payload, buffer)
    write_bytes(path, buffer.getvalue())


def load_supernet(path: str | os.PathLike, space: SearchSpace) -> tuple[Supernet, dict[str, Any]]:
    """Read a supernet written by :func:`save_supernet` (``torch.load(weights_only=True)``).

    Returns:
        ``(supernet, meta)``.

    Raises:
        ConfigError: a missing or unreadable file, or one written for another space.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConfigError("supernet file not found", str(path)) from None
    except Exception as exc:  # corrupt or foreign file
        raise ConfigError(load_failure(exc, "supernet"), str(path)) from None
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ConfigError("not a supernet file (no state_dict)", str(path))
    if payload.get("fingerprint") != space.fingerprint():
        raise ConfigError(
            f"supernet trained on another space (fingerprint "
            f"{payload.get('fingerprint')}, space {space.name!r} has "
            f"{space.fingerprint()})",
            str(path),
        )
    net = Supernet.from_space(
        space, share_first=payload.get("share_first"), dropout=float(payload.get("dropout", 0.0))
    )
    net.load_state_dict(payload["state_dict"])
    return net, dict(payload.get("meta") or {})


__all__ = [
    "MAX_PRIVATE_PATHS",
    "Supernet",
    "build_depth_supernet_net",
    "build_layer_supernet_net",
    "load_supernet",
    "path_key",
    "save_supernet",
]
