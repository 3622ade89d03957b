"""Weight-sharing supernets: one network stands for every architecture of a space.

* :mod:`.slots` -- :class:`SupernetSpec`: the slots of a supernet and their choices.
* :mod:`.decode` -- a space's variables decoded into a supernet spec; costs per path.
* :mod:`.model` -- :class:`Supernet`, the shared blocks, and the standalone builders
  ``depth_supernet`` and ``layer_supernet`` (registered on import).
* :mod:`.samplers` -- path samplers (uniform, epsilon-greedy, fair).
* :mod:`.training` -- supernet training and scoring paths with inherited weights.
"""

from .decode import LAYER_OPS, supernet_spec
from .model import Supernet, load_supernet, save_supernet
from .samplers import SAMPLERS, PathSampler, create_sampler
from .slots import SupernetError, SupernetSpec
from .training import SupernetTrainResult, evaluate_paths, train_supernet

__all__ = [
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
