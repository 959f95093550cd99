#!/usr/bin/env python
"""The object pixel `qa4d generate` chooses (qa4d.geometry.distance_transform.deepest_pixel: an
exact NumPy transform on the mask's bounding box) against SciPy's exact transform of the whole
frame, for every object of every frame of every scene under --scenes (not only the pixels a run
happens to ask for). Also times both (CPU, this process).

    python scripts/check_deepest_pixel.py --scenes DIR

Prints the number of (scene, frame, object) masks compared and how many choose the same pixel;
exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import distance_transform_edt

from machine import machine_line  # scripts/machine.py
from qa4d.geometry.distance_transform import deepest_pixel
from qa4d.scene.format import iter_scene_dirs, load_scene


def whole_frame(mask: np.ndarray) -> tuple[int, int]:
    """SciPy's exact transform of the whole frame, the border counting as outside (a ring of
    background around the image); first maximum in raster order."""
    dist = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    i, j = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(i), int(j)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", required=True)
    args = ap.parse_args()
    n = same = 0
    t_np = t_sp = 0.0
    differ = []
    scenes = 0
    for d in iter_scene_dirs(Path(args.scenes)):
        scene = load_scene(d)
        if not scene.has("instance_mask"):
            continue
        scenes += 1
        masks = np.asarray(scene.instance_mask)
        for t in range(scene.num_frames):
            for obj in scene.objects:
                mask = masks[t] == obj.id
                if not mask.any():
                    continue
                c = time.process_time()
                a = deepest_pixel(mask)
                t_np += time.process_time() - c
                c = time.process_time()
                b = whole_frame(mask)
                t_sp += time.process_time() - c
                n += 1
                same += a == b
                if a != b:
                    differ.append((scene.scene_id, t, obj.id, a, b))
        scene.close()
    print(f"machine: {machine_line()}")
    print(f"{scenes} scenes, {n} (frame, object) masks: the same pixel in {same} of {n}")
    print(f"cpu: bounding box + NumPy {t_np:.2f} s ({t_np / max(n, 1) * 1e6:.0f} us each), "
          f"whole frame + SciPy {t_sp:.2f} s ({t_sp / max(n, 1) * 1e6:.0f} us each)")
    for row in differ[:20]:
        print("differs:", row)
    return 0 if same == n else 1


if __name__ == "__main__":
    sys.exit(main())
