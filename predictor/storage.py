"""One-file persistence of :class:`~jointnas.predictor.estimator.AccuracyPredictor`.

The file is a ``torch.save`` of a dict holding only tensors and plain Python values
(state dicts, the space definition and fingerprint, scalers, hyperparameters, the
package version, the tree models' training inputs: loading refits the trees), so
:func:`torch.load` reads it with ``weights_only=True``: loading a file runs no pickled
code. Writes are atomic (complete file or none).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..data.atomic import write_bytes
from ..data.space import SearchSpace
from ..errors import JointNASError, PredictorError, load_failure
from .networks import Member, ProxyHead
from .training import TargetTransform

FORMAT = "jointnas-predictor"
FORMAT_VERSION = 1


def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def save_predictor(est: Any, path: str | os.PathLike) -> None:
    """Write ``est`` (pretrained and/or fitted) to ``path`` atomically.

    Raises:
        PredictorError: the estimator holds neither a pretrained encoder nor a fit.
    """
    params = est.get_params()
    params.pop("space")
    blob: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": __version__,
        "space": est.space.to_dict(),
        "fingerprint": est.space.fingerprint(),
        "params": params,
        "encoder": None,
        "proxy": None,
        "members": None,
    }
    if est.is_pretrained:
        blob["encoder"] = _cpu(est.encoder_.state_dict())
        blob["proxy"] = {
            "state": _cpu(est.proxy_.state_dict()),
            "targets": list(est.proxy_targets_),
            "transforms": list(est.proxy_transforms_),
            "mean": torch.from_numpy(np.asarray(est.proxy_mean_, dtype=np.float64)),
            "std": torch.from_numpy(np.asarray(est.proxy_std_, dtype=np.float64)),
        }
    if getattr(est, "members_", None):
        blob["members"] = {
            "states": [_cpu(m.state_dict()) for m in est.members_],
            "n_encoders": [len(m.encoders) for m in est.members_],
            "transform": est.transform_.state_dict(),
            "target": est.target_,
            "n_train": est.n_train_,
            "n_skipped": est.n_skipped_,
            "features": _scaling_blob(getattr(est, "feature_scaling_", None)),
            "trees": _trees_blob(getattr(est, "tree_data_", None)),
        }
    if blob["encoder"] is None and blob["members"] is None:
        raise PredictorError("nothing to save: call pretrain() or fit() first")
    buffer = io.BytesIO()  # serialize first: a full disk is then a plain OSError
    torch.save(blob, buffer)
    write_bytes(path, buffer.getvalue())


def load_predictor(cls: type, path: str | os.PathLike, space: SearchSpace | None = None) -> Any:
    """Read a predictor file written by :func:`save_predictor`.

    Args:
        cls: the estimator class to build.
        path: the file.
        space: when given, the file's space fingerprint must equal this one's.

    Raises:
        PredictorError: missing, unreadable, truncated or foreign file, or another space.
    """
    where = str(path)
    if not Path(path).is_file():
        raise PredictorError("predictor file not found", where)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or truncated files
        raise PredictorError(load_failure(exc, "predictor"), where) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise PredictorError("not a jointnas predictor file", where)
    if blob.get("format_version") != FORMAT_VERSION:
        raise PredictorError(
            f"predictor file format {blob.get('format_version')!r} is not "
            f"supported (this version reads {FORMAT_VERSION})",
            where,
        )
    try:
        saved_space = SearchSpace.from_dict(blob["space"], where)
        if space is not None and space.fingerprint() != blob["fingerprint"]:
            raise PredictorError(
                f"predictor was made for another search space (file fingerprint "
                f"{blob['fingerprint']}, given space {space.fingerprint()})",
                where,
            )
        # files from before arch dropout and the tree blend
        params = {"arch_dropout": 0.0, "tree_weight": 0.0, **blob["params"]}
        params.pop("recon_weight", None)  # files from before the reconstruction loss went
        est = cls(space if space is not None else saved_space, **params)
        _restore(est, blob)
    except JointNASError as exc:
        raise exc.at(where) from None
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PredictorError(
            f"predictor file is damaged: {type(exc).__name__}: {reason[:200]}", where
        ) from None
    return est


def _restore(est: Any, blob: dict[str, Any]) -> None:
    dev = torch.device(est.device)
    if blob["encoder"] is not None:
        encoder = est._new_encoder()
        encoder.load_state_dict(blob["encoder"])
        proxy_blob = blob["proxy"]
        proxy = ProxyHead(est.embed, len(proxy_blob["targets"]))
        proxy.load_state_dict(proxy_blob["state"])
        est.encoder_ = encoder.to(dev).eval()
        est.proxy_ = proxy.to(dev).eval()
        est.proxy_targets_ = tuple(proxy_blob["targets"])
        est.proxy_transforms_ = tuple(
            proxy_blob.get("transforms")  # older files: all log
            or ["log"] * len(est.proxy_targets_)
        )
        est.proxy_mean_ = proxy_blob["mean"].numpy().astype(np.float64)
        est.proxy_std_ = proxy_blob["std"].numpy().astype(np.float64)
    fitted = blob["members"]
    if fitted is not None:
        members = []
        for state, count in zip(fitted["states"], fitted["n_encoders"]):
            member = Member([est._new_encoder() for _ in range(count)], est._new_head(count))
            member.load_state_dict(state)
            members.append(member.to(dev).eval())
        est.members_ = members
        est.transform_ = TargetTransform.from_state(fitted["transform"])
        est.target_ = fitted.get("target")  # None in files that did not store it
        est.n_train_ = int(fitted["n_train"])
        est.n_skipped_ = int(fitted["n_skipped"])
        trees = fitted.get("trees")  # the trees are refitted on their stored data
        if trees:
            est._fit_trees(trees["x"].numpy(), trees["y"].numpy())
        else:
            est.trees_, est.tree_data_ = [], None
        scaling = fitted.get("features")  # absent in files from before features
        est.feature_scaling_ = (
            None
            if not scaling
            else (
                tuple(scaling["transforms"]),
                scaling["mean"].numpy().astype(np.float64),
                scaling["std"].numpy().astype(np.float64),
            )
        )


def _trees_blob(data: Any) -> dict[str, torch.Tensor] | None:
    if data is None:
        return None
    x, y = data
    return {"x": torch.from_numpy(np.ascontiguousarray(x)), "y": torch.from_numpy(np.asarray(y, np.float64))}


def _scaling_blob(scaling: Any) -> dict[str, Any] | None:
    if scaling is None:
        return None
    transforms, mean, std = scaling
    return {
        "transforms": list(transforms),
        "mean": torch.from_numpy(np.asarray(mean, np.float64)),
        "std": torch.from_numpy(np.asarray(std, np.float64)),
    }


__all__ = ["FORMAT", "FORMAT_VERSION", "load_predictor", "save_predictor"]
