"""User shards: a stable split of a day's users into N parts that workers build or score apart.

The shard of a user is ``hash(user_id) % N`` with DuckDB's ``hash`` (a fixed, unseeded 64-bit
hash), so every process on every machine puts a user in the same shard. Which shard a user lands
in never changes a value: the outputs are re-assembled and sorted by user_id.
"""

from __future__ import annotations

from tasks.errors import ShopguardError


def check_shards(n_shards: int) -> int:
    if n_shards < 1:
        raise ShopguardError(f"the number of shards must be at least 1, got {n_shards}")
    return n_shards


def shard_predicate(shard: int, n_shards: int, column: str = "user_id") -> str:
    """A SQL condition true for the rows of ``shard`` (of ``n_shards``); always true for one shard."""
    check_shards(n_shards)
    if not 0 <= shard < n_shards:
        raise ShopguardError(f"shard {shard} is outside 0..{n_shards - 1}")
    if n_shards == 1:
        return "TRUE"
    return f"hash({column}) % {n_shards} = {shard}"
