"""How an (arch, recipe) pair becomes a trained, measured model."""

from .cost import arch_costs, costs, flops, fvcore_costs, params, space_costs
from .model import MODEL_BUILDERS, build_model, create_model
from .specs import BlockSpec, NetworkSpec, network_spec

__all__ = [
    "BlockSpec",
    "MODEL_BUILDERS",
    "NetworkSpec",
    "arch_costs",
    "build_model",
    "costs",
    "create_model",
    "flops",
    "fvcore_costs",
    "network_spec",
    "params",
    "space_costs",
]

# training recipes, the trainer and model files
from .checkpoint import load_model, save_model
from .recipe import OPTIMIZERS, SCHEDULES, TrainingRecipe
from .train import TrainingPruned, TrainResult, resolve_device, train_and_evaluate

__all__ += [
    "OPTIMIZERS",
    "SCHEDULES",
    "TrainResult",
    "TrainingPruned",
    "TrainingRecipe",
    "load_model",
    "resolve_device",
    "save_model",
    "train_and_evaluate",
]

# weight-sharing supernets (importing .supernet registers the depth_supernet and
# layer_supernet builders in MODEL_BUILDERS)
from .path_samplers import SAMPLERS, PathSampler, create_sampler
from .supernet import Supernet, load_supernet, save_supernet
from .supernet_decode import LAYER_OPS, supernet_spec
from .supernet_slots import SupernetError, SupernetSpec
from .supernet_train import SupernetTrainResult, evaluate_paths, train_supernet

__all__ += [
    "LAYER_OPS",
    "PathSampler",
    "SAMPLERS",
    "Supernet",
    "SupernetError",
    "SupernetSpec",
    "SupernetTrainResult",
    "create_sampler",
    "evaluate_paths",
    "load_supernet",
    "save_supernet",
    "supernet_spec",
    "train_supernet",
]
