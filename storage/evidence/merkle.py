"""RFC 6962 / RFC 9162 Merkle trees: tree hash, inclusion and consistency proofs.

Leaves are hashed as SHA-256(0x00 || data) and interior nodes as
SHA-256(0x01 || left || right); the tree over n leaves splits at the largest
power of two below n. Proofs are lists of 32-byte hashes, ordered from the
leaves towards the root as in RFC 9162 §2.1.3 and §2.1.4.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 hash of one leaf entry."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An immutable tree over leaf hashes, built once in O(n).

    Every subtree the RFC recursion visits is stored in ``levels``: level l
    holds the roots of aligned blocks of 2**l leaves, the last block of a level
    being the (possibly smaller) right edge. Proofs then cost O(log n).
    """

    def __init__(self, leaf_hashes: Sequence[bytes]):
        level = list(leaf_hashes)
        if any(len(h) != 32 for h in level):
            raise ValueError("leaf hashes must be 32 bytes")
        self.size = len(level)
        self.levels = [level]
        while len(level) > 1:
            level = [node_hash(*level[i:i + 2]) if i + 1 < len(level) else level[i]
                     for i in range(0, len(level), 2)]
            self.levels.append(level)

    @classmethod
    def from_entries(cls, entries: Sequence[bytes]) -> MerkleTree:
        """Build the tree over raw entries (each leaf-hashed first)."""
        return cls([leaf_hash(e) for e in entries])

    @property
    def root(self) -> bytes:
        """MTH of all leaves; SHA-256 of the empty string for no leaves."""
        return self.levels[-1][0] if self.size else EMPTY_ROOT

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a subtree the RFC recursion produces."""
        level = (end - start - 1).bit_length()
        return self.levels[level][start >> level]

    def inclusion_proof(self, index: int) -> list[bytes]:
        """Audit path PATH(index, D[n]) of RFC 9162 §2.1.3.1."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} not in a tree of {self.size}")
        proof = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index >>= 1
        return proof

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1; empty when old_size is 0 or n."""
        if not 0 <= old_size <= self.size:
            raise ValueError(f"old size {old_size} not within 0..{self.size}")
        if old_size in (0, self.size):
            return []
        proof: list[bytes] = []
        start, end, complete = 0, self.size, True
        while old_size != end:
            k = _split(end - start)
            if old_size - start <= k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start, complete = start + k, False
        if not complete:
            proof.append(self._subtree(start, end))
        return proof[::-1]


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift both until fn is odd or zero."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(leaf: bytes, index: int, size: int,
                     proof: Sequence[bytes], root: bytes) -> bool:
    """Check an audit path for leaf hash ``leaf`` at ``index`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(old_size: int, new_size: int, old_root: bytes,
                       new_root: bytes, proof: Sequence[bytes]) -> bool:
    """Check that the tree of ``new_size`` extends the one of ``old_size`` (RFC 9162 §2.1.4.2).

    The empty tree is consistent with any tree, and a tree with itself, with an
    empty proof.
    """
    if not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not proof and hmac.compare_digest(old_root, EMPTY_ROOT)
    if old_size == new_size:
        return not proof and hmac.compare_digest(old_root, new_root)
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)
