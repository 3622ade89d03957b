"""FLOPs and params of a decoded network (:class:`~.specs.NetworkSpec`), block by block.

The counting rules are those of :mod:`.cost` (fvcore's, in eval mode with a batch of
one); both the MBConv space costs and the supernet's per-path costs use this.
"""

from __future__ import annotations

import math

from ..errors import SpaceError
from .specs import STEM_KERNEL, BlockSpec, NetworkSpec, check_fits, out_size


def spec_costs(spec: NetworkSpec, *spatial: int) -> tuple[int, int]:
    """``(flops, params)`` of a decoded network on inputs of the given spatial sizes.

    Args:
        spec: the network; ``spec.spatial_dims`` sizes follow (``height, width`` for
            images, ``length`` for sequences).

    Raises:
        SpaceError: a 1D kernel too large for its sequence length (see
            :func:`.specs.check_fits`).
    """
    if len(spatial) != spec.spatial_dims:
        raise SpaceError(
            f"a {spec.spatial_dims}D network needs {spec.spatial_dims} spatial size(s), got {list(spatial)}"
        )
    check_fits(spec, spatial)
    d, c, s = spec.spatial_dims, spec.stem_width, STEM_KERNEL
    sizes = tuple(out_size(n, s, 1) for n in spatial)
    area = math.prod(sizes)
    total_flops = c * area * (spec.in_channels * s**d + 2)
    total_params = c * (spec.in_channels * s**d + 2)
    previous = None
    for block in spec.blocks:
        if block is not previous or block.stride != 1:  # repeated blocks cost the same
            f, p, sizes = _block_costs(block, sizes)
            previous = block
        total_flops += f
        total_params += p
    c = spec.last_channels
    total_flops += c * math.prod(sizes) + c * spec.num_classes
    total_params += (c + 1) * spec.num_classes
    return total_flops, total_params


def _block_costs(b: BlockSpec, sizes: tuple[int, ...]) -> tuple[int, int, tuple[int, ...]]:
    hidden, cin, cout, k = b.expanded_channels, b.in_channels, b.out_channels, b.kernel
    taps = k ** len(sizes)
    out = tuple(out_size(n, k, b.stride) for n in sizes)
    area_in, area_out = math.prod(sizes), math.prod(out)
    f = hidden * area_out * (taps + 2) + cout * area_out * (hidden + 2)
    p = hidden * (taps + 2) + cout * (hidden + 2)
    if b.has_expansion:
        f += hidden * area_in * (cin + 2)
        p += hidden * (cin + 2)
    if b.se:
        sq = b.squeeze_channels
        f += hidden * area_out + 2 * hidden * sq
        p += 2 * hidden * sq + sq + hidden
    return f, p, out


# -- vectorized ------------------------------------------------------------------------
