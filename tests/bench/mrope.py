"""The multimodal RoPE positions Qwen2-VL / Qwen2.5-VL should give a prompt with images, computed
from the token ids and the image grids alone (the rule of the Qwen2-VL paper, sec. 2.1): text
tokens advance the temporal, height and width positions together, one per token; an image of
merged grid (h, w) placed at position s gives its token (row r, column c), in raster order,
the positions (s, s + r, s + c), and the text after it continues at s + max(h, w)."""

from __future__ import annotations


def expected_mrope(input_ids, attention_mask, image_grid_thw, image_token_id: int, merge: int):
    """input_ids, attention_mask (B, L); image_grid_thw (N, 3) in patches, images in sequence order
    -> positions (3, B, L) as nested lists (t, h, w), 0 at the padding."""
    ids, mask = input_ids.tolist(), attention_mask.tolist()
    grids = iter(image_grid_thw.tolist() if image_grid_thw is not None else [])
    out = [[[0] * len(ids[0]) for _ in ids] for _ in range(3)]
    for b, row in enumerate(ids):
        where = [j for j, m in enumerate(mask[b]) if m]
        pos, k = 0, 0
        while k < len(where):
            if row[where[k]] != image_token_id:
                for axis in range(3):
                    out[axis][b][where[k]] = pos
                pos, k = pos + 1, k + 1
                continue
            t, h, w = next(grids)
            assert t == 1, "an image is one temporal patch"
            h, w = h // merge, w // merge
            for r in range(h):
                for c in range(w):
                    j = where[k + r * w + c]
                    assert row[j] == image_token_id, "fewer image tokens than the grid has cells"
                    out[0][b][j], out[1][b][j], out[2][b][j] = pos, pos + r, pos + c
            k += h * w
            pos += max(h, w)
    return out
