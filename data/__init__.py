"""What can be searched (spaces) and what was measured (tables, datasets). No torch here."""

from .datasets import DATASETS, DatasetBundle, load_dataset
from .model_spec import ModelSpec
from .space import SearchSpace
from .space_io import load_yaml, read_space, write_yaml
from .tables import epoch_columns, read_table, usable_rows, validate_table, write_table
from .variables import Categorical, Float, Integer, Variable

__all__ = [
    "Categorical",
    "DATASETS",
    "DatasetBundle",
    "Float",
    "Integer",
    "ModelSpec",
    "SearchSpace",
    "Variable",
    "epoch_columns",
    "load_dataset",
    "load_yaml",
    "read_space",
    "read_table",
    "usable_rows",
    "validate_table",
    "write_table",
    "write_yaml",
]
