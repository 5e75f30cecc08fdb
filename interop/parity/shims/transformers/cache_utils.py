"""Type names only (the DRT encoder imports them for hints)."""


class Cache:
    pass


class DynamicCache(Cache):
    pass


class SlidingWindowCache(Cache):
    pass


class StaticCache(Cache):
    pass
