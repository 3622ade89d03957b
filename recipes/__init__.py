"""How an (arch, recipe) pair becomes a trained, measured model: costs, networks,
training recipes and the trainer, model files, and weight-sharing supernets
(:mod:`.supernet`; importing it registers the ``depth_supernet`` and ``layer_supernet``
builders in ``MODEL_BUILDERS``)."""

from .checkpoint import load_model, save_model
from .cost import arch_costs, costs, flops, fvcore_costs, params, space_costs
from .model import MODEL_BUILDERS, build_model, create_model
from .recipe import OPTIMIZERS, SCHEDULES, TrainingRecipe
from .specs import BlockSpec, NetworkSpec, network_spec
from .supernet import (
    LAYER_OPS,
    SAMPLERS,
    PathSampler,
    Supernet,
    SupernetError,
    SupernetSpec,
    SupernetTrainResult,
    create_sampler,
    evaluate_paths,
    load_supernet,
    save_supernet,
    supernet_spec,
    train_supernet,
)
from .train import TrainingPruned, TrainResult, resolve_device, train_and_evaluate

__all__ = [
    "arch_costs",
    "BlockSpec",
    "build_model",
    "costs",
    "create_model",
    "create_sampler",
    "evaluate_paths",
    "flops",
    "fvcore_costs",
    "LAYER_OPS",
    "load_model",
    "load_supernet",
    "MODEL_BUILDERS",
    "network_spec",
    "NetworkSpec",
    "OPTIMIZERS",
    "params",
    "PathSampler",
    "resolve_device",
    "SAMPLERS",
    "save_model",
    "save_supernet",
    "SCHEDULES",
    "space_costs",
    "Supernet",
    "supernet_spec",
    "SupernetError",
    "SupernetSpec",
    "SupernetTrainResult",
    "train_and_evaluate",
    "train_supernet",
    "TrainingPruned",
    "TrainingRecipe",
    "TrainResult",
]
