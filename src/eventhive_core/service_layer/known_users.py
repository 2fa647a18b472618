"""User ids this process has already seen stored, so a command need not read the user again.

A Hive that keeps the users checks, before an order or a ticket is written for someone, that
this someone has an account (user ids carry no foreign key). Authentication has just read the
same account for almost every such command, and accounts are never deleted (no storage port
removes one; a ban is a mark on the row, checked by authentication itself), so an id once seen
stored stays stored: the second read is skipped for ids in this set.
"""

from __future__ import annotations

__all__ = ["KnownUsers"]


class KnownUsers:
    """A bounded set of user ids known to be stored; safe to share between threads.

    Args:
        capacity: How many ids are kept; past it the set starts afresh (each id is then read
            once more when next needed), so memory stays bounded whatever the number of users.

    Examples:
        >>> known = KnownUsers(capacity=2)
        >>> known.add("u1")
        >>> "u1" in known, "u2" in known
        (True, False)
    """

    def __init__(self, capacity: int = 65_536) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        # A set's add, membership test and clear are each atomic under the interpreter lock: a
        # race can only forget an id, which costs one read.
        self._ids: set[str] = set()

    def __repr__(self) -> str:
        return f"KnownUsers({len(self._ids)} of {self._capacity})"

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, user_id: str) -> None:
        """Remember that ``user_id`` is stored."""
        if len(self._ids) >= self._capacity:
            self._ids.clear()
        self._ids.add(user_id)
