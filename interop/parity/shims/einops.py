"""Shim for `einops` (rearrange, repeat): the authors' code uses only plain axis patterns.

Supported: named axes, parenthesised groups on either side, the literal `1` (a unit axis), sizes
given as keyword arguments; no ellipsis. The math is reshape -> permute -> reshape (rearrange) and
additionally unsqueeze -> expand for new axes (repeat), as in einops.
"""
import math

import torch


def _parse(side):
    groups, current, depth = [], None, 0
    for token in side.replace("(", " ( ").replace(")", " ) ").split():
        if token == "(":
            if current is not None:
                raise ValueError(f"nested parentheses in '{side}'")
            current = []
        elif token == ")":
            if current is None:
                raise ValueError(f"unbalanced ')' in '{side}'")
            groups.append(current)
            current = None
        else:
            names = [] if token == "1" else [token]
            if current is not None:
                current.extend(names)
            else:
                groups.append(names)
    if current is not None:
        raise ValueError(f"unbalanced '(' in '{side}'")
    return groups


def _left_sizes(x, groups, sizes, pattern):
    if len(groups) != x.dim():
        raise ValueError(f"'{pattern}' names {len(groups)} axes, the tensor has {x.dim()}")
    known = dict(sizes)
    for dim, group in zip(x.shape, groups):
        unknown = [a for a in group if a not in known]
        product = math.prod(known[a] for a in group if a in known)
        if len(unknown) > 1:
            raise ValueError(f"'{pattern}': cannot infer {unknown}")
        if unknown:
            if dim % product:
                raise ValueError(f"'{pattern}': axis of {dim} is not divisible by {product}")
            known[unknown[0]] = dim // product
        elif product != dim:
            raise ValueError(f"'{pattern}': axis of {dim} does not match {group} = {product}")
    return known


def _apply(x, pattern, sizes, allow_new):
    left_side, right_side = pattern.split("->")
    left, right = _parse(left_side), _parse(right_side)
    known = _left_sizes(x, left, sizes, pattern)
    left_axes = [a for g in left for a in g]
    right_axes = [a for g in right for a in g]
    new_axes = [a for a in right_axes if a not in left_axes]
    if set(left_axes) - set(right_axes):
        raise ValueError(f"'{pattern}': axes {set(left_axes) - set(right_axes)} disappear")
    if new_axes and not allow_new:
        raise ValueError(f"'{pattern}': rearrange cannot create axes {new_axes}")
    for a in new_axes:
        if a not in sizes:
            raise ValueError(f"'{pattern}': size of new axis '{a}' not given")
    x = x.reshape([known[a] for a in left_axes])
    kept = [a for a in right_axes if a in left_axes]
    x = x.permute([left_axes.index(a) for a in kept])
    if new_axes:
        x = x.reshape([known[a] if a in left_axes else 1 for a in right_axes])
        x = x.expand([known[a] if a in left_axes else sizes[a] for a in right_axes])
    return x.reshape([math.prod(known[a] if a in left_axes else sizes[a] for a in g) for g in right])


def rearrange(x, pattern, **sizes):
    return _apply(x, pattern, sizes, allow_new=False)


def repeat(x, pattern, **sizes):
    return _apply(x, pattern, sizes, allow_new=True)


def einsum(*args):
    raise NotImplementedError("einops.einsum is not used by the DRT model (shim)")
