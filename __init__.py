"""jointnas: search neural architectures and their training recipes together."""

from ._version import __version__
from .data import Categorical, Float, Integer, ModelSpec, SearchSpace
from .errors import JointNASError

__all__ = ["Categorical", "Float", "Integer", "JointNASError", "ModelSpec", "SearchSpace", "__version__"]
