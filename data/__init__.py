"""What can be searched (spaces) and what was measured (tables, datasets). No torch here."""

from .space import ModelSpec, SearchSpace
from .space_io import load_yaml, read_space, write_yaml
from .variables import Categorical, Float, Integer, Variable

__all__ = [
    "Categorical",
    "Float",
    "Integer",
    "ModelSpec",
    "SearchSpace",
    "Variable",
    "load_yaml",
    "read_space",
    "write_yaml",
]
