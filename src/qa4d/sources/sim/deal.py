"""Where a scene's randomness comes from: `scene_rng(seed, index)` for everything, and
`_stratum` for the discrete choices that become labels (balanced across the scenes of a run);
the deck of scene kinds (`scene_kind`, `kind_ordinal`)."""

from __future__ import annotations

import numpy as np

def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The only source of randomness of scene `index` of a run with `seed` (besides `_stratum`)."""
    return np.random.default_rng([int(seed), int(index)])


def scene_name(seed: int, index: int) -> str:
    return f"sim{int(seed)}_{int(index):05d}"


_STREAMS = {"camera": 1, "translate": 2, "agent": 3, "kind": 4, "kind_deck": 5, "kind_deck2": 6}

# Scene kinds. "mixed" is the original random scene (any motion, a world camera); the others stage
# one kind of motion with its ground truth in extra.sim[kind] (docs/simulator.md):
# camera_motion (objects translating while the camera trucks, dollies or pans), spinning (several
# objects spinning in place), repeated (back and forth, hops, starts one after another),
# accelerating (constant acceleration against constant speed), ego (camera on an agent) and large
# (a big static object that a close, sweeping camera never sees whole in one frame).
SCENE_KINDS = ("mixed", "camera_motion", "spinning", "repeated", "accelerating", "ego", "large")
# Default deck: each block of 9 consecutive scenes has 3 mixed scenes and one of each other kind.
KIND_DECK = ("mixed", "mixed", "mixed", "camera_motion", "spinning", "repeated", "accelerating", "ego", "large")


def scene_kind(seed: int, index: int, kinds: tuple[str, ...] = KIND_DECK) -> str:
    """Kind of scene `index` of a run: a stratified draw from the deck `kinds` (duplicates weight)."""
    bad = [k for k in kinds if k not in SCENE_KINDS]
    if not kinds or bad:
        raise ValueError(f"scene kinds: unknown {bad} (known: {', '.join(SCENE_KINDS)})" if bad else "no scene kinds")
    return kinds[_stratum(seed, index, "kind", len(kinds))] if len(kinds) > 1 else kinds[0]


def kind_ordinal(seed: int, index: int, kinds: tuple[str, ...] = KIND_DECK) -> int:
    """How many scenes before `index` in the run have the same kind as scene `index`: the index
    that kind-specific decks are stratified over, so they come out even within the kind."""
    kind = scene_kind(seed, index, kinds)
    block, pos = divmod(int(index), len(kinds))
    before = sum(scene_kind(seed, block * len(kinds) + i, kinds) == kind for i in range(pos))
    return block * kinds.count(kind) + before


def _stratum(seed: int, index: int, stream: str, n: int) -> int:
    """A categorical draw in range(n) that is balanced across the scenes of a run.

    Scenes index // n * n ... + n - 1 (a block of n consecutive scenes) take every value exactly
    once, in an order drawn from default_rng([seed, block, stream]): label counts over a run are
    even (+-1 per block) instead of multinomial, and scene k still depends on (seed, k) only.
    """
    block, pos = divmod(int(index), n)
    perm = np.random.default_rng([int(seed), block, _STREAMS[stream]]).permutation(n)
    return int(perm[pos])


def _pick(rng: np.random.Generator, items: list[str], weights: list[float]) -> str:
    w = np.asarray(weights, dtype=np.float64)
    return items[int(rng.choice(len(items), p=w / w.sum()))]
