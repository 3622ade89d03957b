"""Diversity-controlled neural ensemble search (EdgeNES) over a DARTS cell space.

* :mod:`.space` -- :class:`CellSpace`: nodes, operations, cell layout.
* :mod:`.genotype` -- discrete architectures, DARTS discretization, shared edges.
* :mod:`.gumbel` -- straight-through Gumbel-softmax architecture samples, edge counts.
* :mod:`.ops`, :mod:`.network` -- operations, the supernet and discrete networks.
* :mod:`.darts` -- first-order DARTS: :func:`darts_search` -> ``alpha*``.
* :mod:`.hypernet` -- the hypernetwork ``alpha(lambda, a)`` and its training.
* :mod:`.members`, :mod:`.selection` -- member training, averaged-softmax ensembles,
  greedy forward selection, diversity measures.
* :mod:`.edgenes` -- :class:`EdgeNES`, the public entry point.
* :mod:`.config`, :mod:`.report` -- the YAML config file and the run-folder outputs.
"""

from __future__ import annotations

from .config import EnsembleConfig, read_config
from .darts import DartsResult, darts_search
from .edgenes import EdgeNES, EnsembleResult, assemble, ensemble_scores
from .genotype import Edge, Genotype, discretize, genotype_mask, random_genotype, shared_edges
from .gumbel import edge_count, gumbel_architecture
from .hypernet import HyperNet, sample_architectures, train_hypernet
from .members import Member, spawn_seeds, train_member
from .network import CellNetwork, inherit_weights
from .selection import Selection, ensemble_proba, greedy_select, mean_pairwise_shared, pairwise_shared
from .settings import DartsSettings, HyperSettings, MemberSettings
from .space import CELL_TYPES, OPERATIONS, CellSpace
from .training import Splits

__all__ = [
    "CELL_TYPES",
    "CellNetwork",
    "CellSpace",
    "DartsResult",
    "DartsSettings",
    "EdgeNES",
    "Edge",
    "EnsembleConfig",
    "EnsembleResult",
    "Genotype",
    "HyperNet",
    "HyperSettings",
    "Member",
    "MemberSettings",
    "OPERATIONS",
    "Selection",
    "Splits",
    "assemble",
    "darts_search",
    "discretize",
    "edge_count",
    "ensemble_proba",
    "ensemble_scores",
    "genotype_mask",
    "greedy_select",
    "gumbel_architecture",
    "inherit_weights",
    "mean_pairwise_shared",
    "pairwise_shared",
    "random_genotype",
    "read_config",
    "sample_architectures",
    "shared_edges",
    "spawn_seeds",
    "train_hypernet",
    "train_member",
]
