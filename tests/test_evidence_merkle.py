"""RFC 6962 / RFC 9162 Merkle trees against published vectors and a naive reference."""

import hashlib

import pytest

from nigran.storage.evidence.merkle import (EMPTY_ROOT, MerkleTree, leaf_hash, node_hash, verify_consistency,
                                            verify_inclusion)

# Certificate Transparency reference data: eight entries and the tree heads of
# their prefixes (sizes 0..8).
CT_ENTRIES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
# (leaf index, tree size, audit path)
CT_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
# (old size, new size, consistency proof)
CT_CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
MAX_SIZE = 40
ENTRIES = [f"capture-{i}".encode() for i in range(MAX_SIZE)]
OTHER = hashlib.sha256(b"some other hash").digest()


# --- The RFC 9162 §2.1 definitions, transcribed literally over raw entries. ---

def _k(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(d):
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:])).digest()


def naive_path(m, d):
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return naive_path(m, d[:k]) + [naive_mth(d[k:])]
    return naive_path(m - k, d[k:]) + [naive_mth(d[:k])]


def naive_subproof(m, d, b):
    if m == len(d):
        return [] if b else [naive_mth(d)]
    k = _k(len(d))
    if m <= k:
        return naive_subproof(m, d[:k], b) + [naive_mth(d[k:])]
    return naive_subproof(m - k, d[k:], False) + [naive_mth(d[:k])]


TREES = {n: MerkleTree.from_entries(ENTRIES[:n]) for n in range(MAX_SIZE + 1)}


def _flip(h, bit=3):
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def test_hash_prefixes():
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"L", b"R") == hashlib.sha256(b"\x01LR").digest()


def test_empty_tree():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MerkleTree([]).root == EMPTY_ROOT


def test_ct_reference_roots():
    for n, expected in enumerate(CT_ROOTS):
        assert MerkleTree.from_entries(CT_ENTRIES[:n]).root == expected
        assert naive_mth(CT_ENTRIES[:n]) == expected


@pytest.mark.parametrize("index,size,path", CT_INCLUSION)
def test_ct_inclusion_vectors(index, size, path):
    proof = [bytes.fromhex(h) for h in path]
    assert MerkleTree.from_entries(CT_ENTRIES[:size]).inclusion_proof(index) == proof
    assert verify_inclusion(leaf_hash(CT_ENTRIES[index]), index, size, proof, CT_ROOTS[size])


@pytest.mark.parametrize("old,new,path", CT_CONSISTENCY)
def test_ct_consistency_vectors(old, new, path):
    proof = [bytes.fromhex(h) for h in path]
    assert MerkleTree.from_entries(CT_ENTRIES[:new]).consistency_proof(old) == proof
    assert verify_consistency(old, new, CT_ROOTS[old], CT_ROOTS[new], proof)


def test_roots_match_naive_definition():
    for n, tree in TREES.items():
        assert tree.root == naive_mth(ENTRIES[:n]), n


def _inclusion_tampers(leaf, index, size, proof, root):
    """Mutations of a valid inclusion proof, each of which must be rejected."""
    yield leaf, index - 1, size, proof, root
    yield leaf, index + 1, size, proof, root
    yield leaf, index ^ 2, size, proof, root
    yield leaf, index, size * 2, proof, root
    yield leaf, index, size // 2, proof, root
    yield OTHER, index, size, proof, root
    yield leaf, index, size, proof, EMPTY_ROOT
    yield leaf, index, size, proof + [OTHER], root
    yield leaf, index, size, [OTHER] + proof, root
    yield leaf, index, size, proof + [root], root
    if proof:
        yield leaf, index, size, proof[:-1], root
    for i in range(len(proof)):
        yield leaf, index, size, proof[:i] + [_flip(proof[i])] + proof[i + 1:], root


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_inclusion_every_index(size):
    tree = TREES[size]
    for index in range(size):
        proof = tree.inclusion_proof(index)
        assert proof == naive_path(index, ENTRIES[:size])
        leaf = leaf_hash(ENTRIES[index])
        assert verify_inclusion(leaf, index, size, proof, tree.root)
        for probe in _inclusion_tampers(leaf, index, size, proof, tree.root):
            assert not verify_inclusion(*probe), (index, size)


def test_inclusion_index_out_of_range():
    with pytest.raises(IndexError):
        TREES[3].inclusion_proof(3)
    assert not verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)


def _consistency_tampers(old, new, old_root, new_root, proof):
    """Mutations of a valid, non-empty consistency proof, each of which must be rejected."""
    yield old - 1, new, old_root, new_root, proof
    yield old + 1, new, old_root, new_root, proof
    yield old ^ 2, new, old_root, new_root, proof
    yield old, new * 2, old_root, new_root, proof
    yield old, new // 2, old_root, new_root, proof
    yield old, new, OTHER, new_root, proof
    yield old, new, old_root, OTHER, proof
    yield old, new, new_root, old_root, proof
    yield old, new, old_root, new_root, []
    yield old, new, old_root, new_root, proof + [OTHER]
    yield old, new, old_root, new_root, proof + [old_root]
    yield old, new, old_root, new_root, [OTHER] + proof
    yield old, new, old_root, new_root, [proof[0]] + proof
    yield old, new, old_root, new_root, proof[:-1]
    for i in range(len(proof)):
        yield old, new, old_root, new_root, proof[:i] + [_flip(proof[i], 4)] + proof[i + 1:]


@pytest.mark.parametrize("new", range(1, MAX_SIZE + 1))
def test_consistency_every_old_size(new):
    tree = TREES[new]
    for old in range(0, new + 1):
        proof = tree.consistency_proof(old)
        expected = naive_subproof(old, ENTRIES[:new], True) if 0 < old < new else []
        assert proof == expected, (old, new)
        old_root = TREES[old].root
        assert verify_consistency(old, new, old_root, tree.root, proof), (old, new)
        if not proof:
            continue
        for probe in _consistency_tampers(old, new, old_root, tree.root, proof):
            assert not verify_consistency(*probe), (old, new)


def test_consistency_trivial_cases():
    root = TREES[5].root
    assert verify_consistency(0, 5, EMPTY_ROOT, root, [])
    assert not verify_consistency(0, 5, OTHER, root, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root, [root])
    assert verify_consistency(5, 5, root, root, [])
    assert not verify_consistency(5, 5, root, OTHER, [])
    assert not verify_consistency(6, 5, root, root, [])
    with pytest.raises(ValueError):
        TREES[5].consistency_proof(6)


def test_rejects_malformed_leaf_hashes():
    with pytest.raises(ValueError):
        MerkleTree([b"short"])
