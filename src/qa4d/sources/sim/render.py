"""Rendering with PyBullet's TinyRenderer (CPU, no OpenGL context): RGB, metric depth, instances.

The renderer knows nothing about scenarios or motion: it takes an OpenCV camera (intrinsics and
cam_to_world) and returns one frame. Conversions between our OpenCV convention and PyBullet's
OpenGL matrices live here and are tested by projecting known points onto the rendered masks.

OpenGL camera axes are x right, y up, z backwards, i.e. OpenCV axes with y and z negated.
PyBullet takes 4x4 matrices as 16 floats in column-major order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from qa4d.geometry.camera import invert_rigid

# diag(1, -1, -1, 1): flips y and z, OpenCV camera <-> OpenGL camera (its own inverse).
_CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])

# TinyRenderer samples output pixel (row i, col j) at (u, v) = (j, i + 1) of the projection it is
# given (integer corners, counted from the bottom), not at the centre (j + .5, i + .5) that our
# geometry uses. Shifting the principal point by this much makes the two agree; without it,
# back-projected depth is off by half a pixel (measured: tests/sources/test_sim_render.py).
TINY_RENDERER_PRINCIPAL_SHIFT = (-0.5, 0.5)


def gl_view_matrix(cam_to_world: np.ndarray) -> list[float]:
    """PyBullet viewMatrix (OpenGL world->camera, column-major) of an OpenCV cam_to_world (4, 4)."""
    world_to_gl = _CV_TO_GL @ invert_rigid(cam_to_world)
    return [float(v) for v in world_to_gl.T.reshape(-1)]


def gl_projection_matrix(intrinsics: np.ndarray, width: int, height: int, near: float, far: float) -> list[float]:
    """PyBullet projectionMatrix (column-major) matching pinhole intrinsics (3, 3) for an image of
    width x height pixels, with clipping planes `near` < `far` in metres.

    Pixel u = fx x/z + cx maps to NDC x = 2u/W - 1, and v (downwards) to NDC y = 1 - 2v/H.
    """
    fx, fy = intrinsics[0, 0], intrinsics[1, 1]
    cx, cy = intrinsics[0, 2], intrinsics[1, 2]
    skew = intrinsics[0, 1]
    proj = np.zeros((4, 4))
    # OpenGL camera coordinates (xg, yg, zg) = (x, -y, -z) of OpenCV, with z = -zg > 0 in view.
    proj[0, 0] = 2.0 * fx / width
    proj[0, 1] = -2.0 * skew / width
    proj[0, 2] = 1.0 - 2.0 * cx / width
    proj[1, 1] = 2.0 * fy / height
    proj[1, 2] = 2.0 * cy / height - 1.0
    proj[2, 2] = -(far + near) / (far - near)
    proj[2, 3] = -2.0 * far * near / (far - near)
    proj[3, 2] = -1.0
    return [float(v) for v in proj.T.reshape(-1)]


def depth_buffer_to_z(buffer: np.ndarray, near: float, far: float, out: np.ndarray | None = None) -> np.ndarray:
    """OpenGL depth buffer values in [0, 1] -> z-depth in metres along the optical axis.

    buffer: (H, W). Returns (H, W) float32 (`out`, when given: written in place, no temporary);
    0 where nothing was hit (buffer at the far plane).
    """
    buffer = np.asarray(buffer, dtype=np.float32)
    # float32 throughout: the buffer itself is float32, so float64 would add cost, not accuracy.
    z = np.multiply(np.float32(far - near), buffer, out=out)
    np.subtract(np.float32(far), z, out=z)
    np.divide(np.float32(far * near), z, out=z)
    np.copyto(z, np.float32(0.0), where=buffer >= np.float32(1.0 - 1e-7))  # the clear value 1 = nothing hit
    return z


@dataclass
class RenderSettings:
    """Image size, clipping planes and lighting of a rendered sequence."""

    width: int
    height: int
    near: float = 0.05
    far: float = 40.0
    light_direction: tuple[float, float, float] = (1.0, 1.0, 2.0)
    shadow: bool = True
    ambient: float = 0.6
    diffuse: float = 0.45
    specular: float = 0.05


@dataclass
class Frame:
    """One rendered frame. rgb (H, W, 3) uint8; depth (H, W) float32 metres, 0 = nothing;
    body (H, W) int32 PyBullet body unique id per pixel, -1 where nothing was hit."""

    rgb: np.ndarray
    depth: np.ndarray
    body: np.ndarray


class Renderer:
    """Renders frames of one PyBullet client and keeps the CPU time spent inside getCameraImage
    (`render_seconds`, `time.process_time`) so benchmarks can separate rendering from the rest of
    the pipeline."""

    def __init__(self, client, settings: RenderSettings):
        self.client = client
        self.settings = settings
        self.render_seconds = 0.0
        self.frames_rendered = 0
        self._projection: tuple[bytes, list[float]] | None = None  # (intrinsics bytes, matrix)

    def projection(self, intrinsics: np.ndarray) -> list[float]:
        """The projectionMatrix for `intrinsics` (3, 3), with the TinyRenderer pixel shift; kept
        while the intrinsics stay the same (a simulated scene has one camera)."""
        k = np.asarray(intrinsics, dtype=np.float64)
        key = k.tobytes()
        if self._projection is None or self._projection[0] != key:
            s = self.settings
            k_render = k.copy()
            k_render[0, 2] += TINY_RENDERER_PRINCIPAL_SHIFT[0]
            k_render[1, 2] += TINY_RENDERER_PRINCIPAL_SHIFT[1]
            self._projection = (key, gl_projection_matrix(k_render, s.width, s.height, s.near, s.far))
        return self._projection[1]

    def render_buffers(self, intrinsics: np.ndarray, cam_to_world: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One TinyRenderer pass, PyBullet's buffers as they come (NumPy arrays, no copy): rgba
        (H, W, 4) uint8, OpenGL depth buffer (H, W) float32, body ids (H, W) int32 (-1: nothing).

        intrinsics: (3, 3); cam_to_world: (4, 4) OpenCV axes.
        """
        s = self.settings
        c = self.client
        view, proj = gl_view_matrix(cam_to_world), self.projection(intrinsics)
        start = time.process_time()
        _, _, rgba, depth_buf, seg = c.getCameraImage(
            s.width,
            s.height,
            viewMatrix=view,
            projectionMatrix=proj,
            renderer=c.ER_TINY_RENDERER,
            shadow=int(s.shadow),
            lightDirection=list(s.light_direction),
            lightAmbientCoeff=s.ambient,
            lightDiffuseCoeff=s.diffuse,
            lightSpecularCoeff=s.specular,
        )
        self.render_seconds += time.process_time() - start
        self.frames_rendered += 1
        shape = (s.height, s.width)
        # pybullet built with NumPy (pybullet.isNumpyEnabled()) returns arrays; else flat sequences
        rgba = np.asarray(rgba, dtype=np.uint8).reshape(*shape, 4)
        return rgba, np.asarray(depth_buf, dtype=np.float32).reshape(shape), np.asarray(seg, dtype=np.int32).reshape(shape)

    def render(self, intrinsics: np.ndarray, cam_to_world: np.ndarray) -> Frame:
        """Render RGB, depth and body ids together (one TinyRenderer pass per frame).

        intrinsics: (3, 3); cam_to_world: (4, 4) OpenCV axes.
        """
        s = self.settings
        rgba, depth_buf, body = self.render_buffers(intrinsics, cam_to_world)
        depth = depth_buffer_to_z(depth_buf, s.near, s.far)
        return Frame(rgb=np.ascontiguousarray(rgba[..., :3]), depth=depth, body=body)
