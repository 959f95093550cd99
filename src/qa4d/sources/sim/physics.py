"""The PyBullet world of one scene: building it from a SceneSpec, stepping it frame by frame.

Kinematic objects (static, scripted translation/rotation, agents) are fixed-base bodies whose
pose is set every physics sub-step from the closed-form motion of the scenario; physics objects
(pushed, rolling, falling, colliding, struck) are dynamic bodies given an initial velocity.
Static props and the ground are fixed bodies that belong to the background.

Each scene gets its own DIRECT client, so scenes never share state and the same spec always
produces the same poses (Bullet is deterministic for an identical sequence of calls).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def silence_stdout():
    """Send C-level stdout and stderr to /dev/null: PyBullet prints build banners and URDF
    warnings there, which would bury the CLI's own messages. Python exceptions still propagate."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no real fds (embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        _flush_c_stdio()  # C's buffers still hold PyBullet's text: drop it into /dev/null
        for fd, dup in zip((1, 2), saved):
            os.dup2(dup, fd)
            os.close(dup)


def _flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


with silence_stdout():
    import pybullet as p
    import pybullet_data
    from pybullet_utils.bullet_client import BulletClient

from qa4d.sources.sim.meshes import GEOM_BOX, GEOM_CYLINDER, body_triangles, extent_and_centre
from qa4d.sources.sim.motion import scripted_pose, upright_rotation, yaw_rotation
from qa4d.sources.sim.spec import ObjectSpec, SceneSpec


class Client(BulletClient):
    """A BulletClient that keeps each client-bound PyBullet function once made. BulletClient
    inspects the attribute and builds a new `functools.partial` at every call (about 5 us, some
    60 calls a frame); here that happens once per function and client."""

    def __getattr__(self, name):
        attribute = super().__getattr__(name)
        if name != "disconnect" and isinstance(attribute, functools.partial):
            self.__dict__[name] = attribute  # found before __getattr__ from now on
        return attribute


PHYSICS_HZ = 120.0  # Bullet is stable here for these sizes and speeds; half the steps of 240
SETTLE_STEPS = 30  # sub-steps before frame 0 so resting dynamic bodies are at rest on the ground


def _quat_from_matrix(rot: np.ndarray) -> list[float]:
    """(x, y, z, w) quaternion of a rotation matrix (3, 3), w >= 0 for a unique answer."""
    m = rot
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = np.sqrt(tr + 1.0) * 2
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.asarray(q, dtype=np.float64)
    q /= np.linalg.norm(q)
    return [float(v) for v in (q if q[3] >= 0 else -q)]


def _quat_mul(a, b) -> list[float]:
    """Hamilton product a * b of (x, y, z, w) quaternions (rotation b, then a)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return [
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ]


def _white_texture_path() -> str:
    """A 4x4 white PNG: painting a textured mesh with rgbaColor multiplies its texture, so
    objects that must show their caption colour get this texture first."""
    path = Path(tempfile.gettempdir()) / "qa4d_sim_white_4x4.png"
    if not path.exists():
        from qa4d._io import write_bytes_atomic
        from qa4d.scene.format import encode_png

        write_bytes_atomic(path, encode_png(np.full((4, 4, 3), 255, dtype=np.uint8)))
    return str(path)


class World:
    """One scene's PyBullet world. Use `pose_at_frame(t)` in increasing t, then `close()`."""

    def __init__(self, spec: SceneSpec):
        with silence_stdout():
            self._init(spec)

    def _init(self, spec: SceneSpec) -> None:
        self.spec = spec
        self.client = Client(connection_mode=p.DIRECT)
        c = self.client
        self.data_path = Path(pybullet_data.getDataPath())
        c.setGravity(0, 0, -9.81)
        self.substeps = max(1, int(round(PHYSICS_HZ / spec.fps)))
        c.setPhysicsEngineParameter(
            fixedTimeStep=1.0 / (spec.fps * self.substeps), numSolverIterations=50, deterministicOverlappingPairs=1
        )
        self._white = c.loadTexture(_white_texture_path())
        self._build_ground()
        self.prop_ids = [self._build_prop(pr) for pr in spec.props]
        self.body_ids: list[int] = []
        self.start_pos: list[np.ndarray] = []  # object-frame origin at the start (world)
        self.start_rot: list[np.ndarray] = []  # upright rotation at yaw 0 (3, 3)
        self.joint_ids: list[list[int]] = []
        self._tris_at_origin: list[np.ndarray] = []
        for obj in spec.objects:
            self._build_object(obj)
        # object frame, (F, 3, 3); read once placed (the frames PyBullet reports for links then
        # differ in the last bits from those at the origin, where _rest_on_ground reads them). A
        # body without links has only base shapes, whose frames do not depend on the pose: the
        # triangles read at the origin are these, bit for bit.
        self.triangles = [body_triangles(c, b) if joints else tris
                          for b, joints, tris in zip(self.body_ids, self.joint_ids, self._tris_at_origin)]
        self._movers = [i for i, o in enumerate(spec.objects) if o.motion.kinematic and o.motion.kind != "static"]
        self._dynamic = any(not o.motion.kinematic for o in spec.objects)  # else: no physics to step
        self._up_quat = [_quat_from_matrix(r) for r in self.start_rot]
        # each object's visual box in its object frame: size (3,) and centre (3,)
        self.boxes = [extent_and_centre(t) if len(t) else (np.zeros(3), np.zeros(3)) for t in self.triangles]
        # Scripted motions move the centre of the visual box (what the scene's object_to_world
        # and every question measure): a turn pivots about it, not about the URDF origin.
        self._box_offset = [  # box centre minus object origin at the start, world axes
            yaw_rotation(o.yaw_deg) @ r @ centre
            for o, r, (_, centre) in zip(spec.objects, self.start_rot, self.boxes)
        ]
        self._turns: dict[int, tuple] = {}  # mover -> (yaw key, orientation, pivot): _turn
        self._settle()
        self.frame = -1

    # -- building ---------------------------------------------------------------------------

    def _urdf(self, rel: str) -> str:
        path = self.data_path / rel
        if not path.exists():
            raise FileNotFoundError(f"asset {rel!r} not found in pybullet_data ({path})")
        return str(path)

    def _build_ground(self) -> None:
        c = self.client
        self.ground_id = c.loadURDF(self._urdf("plane.urdf"), useFixedBase=True)
        kw = {"textureUniqueId": self._white} if self.spec.ground_texture == "plain" else {}
        c.changeVisualShape(self.ground_id, -1, rgbaColor=list(self.spec.ground_rgba), **kw)
        c.changeDynamics(self.ground_id, -1, lateralFriction=1.0)

    def _primitive(self, shape: str, scale: float, rgba, mass: float, extent=None) -> int:
        """A cylinder (radius 0.5 scale, height 1.6 scale) or a box: a cube of side `scale`, or of
        sides `extent` (3,) when given (objects: their `approx_extent`)."""
        c = self.client
        if shape == "cylinder":
            r, h = 0.5 * scale, 1.6 * scale
            col = c.createCollisionShape(GEOM_CYLINDER, radius=r, height=h)
            vis = c.createVisualShape(GEOM_CYLINDER, radius=r, length=h, rgbaColor=list(rgba))
        elif shape == "box":
            he = [0.5 * scale] * 3 if extent is None else [0.5 * float(v) for v in extent]
            col = c.createCollisionShape(GEOM_BOX, halfExtents=he)
            vis = c.createVisualShape(GEOM_BOX, halfExtents=he, rgbaColor=list(rgba))
        else:
            raise ValueError(f"unknown primitive {shape!r}")
        return c.createMultiBody(baseMass=mass, baseCollisionShapeIndex=col, baseVisualShapeIndex=vis)

    def _build_prop(self, prop) -> int:
        c = self.client
        if prop.primitive:
            b = self._primitive(prop.primitive, prop.scale, prop.rgba, 0.0)
        else:
            b = c.loadURDF(self._urdf(prop.urdf), globalScaling=prop.scale, useFixedBase=True)
        self._paint(b, prop.rgba, keep_texture=False)
        rot = yaw_rotation(prop.yaw_deg)
        self._rest_on_ground(b, np.array([prop.position[0], prop.position[1], 0.0]), rot)
        return b

    def _paint(self, body: int, rgba, keep_texture: bool) -> None:
        c = self.client
        for link in range(-1, c.getNumJoints(body)):
            kw = {} if keep_texture else {"textureUniqueId": self._white}
            c.changeVisualShape(body, link, rgbaColor=list(rgba), **kw)

    def _rest_on_ground(self, body: int, xy_z: np.ndarray, rot: np.ndarray, tris: np.ndarray | None = None) -> np.ndarray:
        """Place `body` with orientation `rot` so its lowest visual point is at height xy_z[2]
        above the ground at (x, y). Returns the world position of the object frame."""
        c = self.client
        if tris is None:
            tris = body_triangles(c, body)
        low = (tris.reshape(-1, 3) @ rot.T)[:, 2].min()
        pos = np.array([xy_z[0], xy_z[1], xy_z[2] - low + 1e-3])
        c.resetBasePositionAndOrientation(body, pos.tolist(), _quat_from_matrix(rot))
        return pos

    def _build_object(self, obj: ObjectSpec) -> None:
        c = self.client
        m = obj.motion
        dynamic = not m.kinematic
        if obj.primitive:
            b = self._primitive(obj.primitive, obj.scale, obj.rgba, 1.0 if dynamic else 0.0,
                                extent=obj.approx_extent if obj.primitive == "box" else None)
        else:
            b = c.loadURDF(self._urdf(obj.urdf), globalScaling=obj.scale, useFixedBase=not dynamic)
        self._paint(b, obj.rgba, keep_texture=obj.keep_texture)
        joints = list(range(c.getNumJoints(b)))
        for j in joints:  # wheels and grippers stay put: the body is rigid
            c.resetJointState(b, j, 0.0)
            c.setJointMotorControl2(b, j, p.VELOCITY_CONTROL, targetVelocity=0, force=0)
        up = upright_rotation(obj)
        rot = yaw_rotation(obj.yaw_deg) @ up
        tris = body_triangles(c, b)
        pos = self._rest_on_ground(b, np.asarray(obj.position, dtype=np.float64), rot, tris)
        if dynamic:
            c.changeDynamics(b, -1, lateralFriction=m.friction, rollingFriction=0.001 if m.kind == "rolling" else 0.01,
                             spinningFriction=0.001, restitution=0.2, linearDamping=0.02, angularDamping=0.05)
        self.body_ids.append(b)
        self.start_pos.append(pos)
        self.start_rot.append(up)
        self.joint_ids.append(joints)
        self._tris_at_origin.append(tris)

    def _settle(self) -> None:
        """Let resting dynamic bodies settle, holding falling/moving ones still; then launch."""
        c = self.client
        if not self._dynamic:
            return
        held = [i for i, o in enumerate(self.spec.objects) if o.motion.kind == "falling"]
        for _ in range(SETTLE_STEPS):
            for i in held:
                c.resetBasePositionAndOrientation(self.body_ids[i], *c.getBasePositionAndOrientation(self.body_ids[i]))
                c.resetBaseVelocity(self.body_ids[i], [0, 0, 0], [0, 0, 0])
            c.stepSimulation()
        for i in held:  # undo any drift from contacts during settling
            obj = self.spec.objects[i]
            rot = yaw_rotation(obj.yaw_deg) @ self.start_rot[i]
            c.resetBasePositionAndOrientation(self.body_ids[i], self.start_pos[i].tolist(), _quat_from_matrix(rot))
        for i, obj in enumerate(self.spec.objects):
            if not obj.motion.kinematic:
                c.resetBaseVelocity(self.body_ids[i], list(obj.motion.velocity), list(obj.motion.angular_velocity))
        # Physics objects' start = where they settled (scripted offsets are relative to start_pos).

    # -- stepping ---------------------------------------------------------------------------

    def _set_kinematic(self, s: float) -> None:
        """Pose every moving kinematic object at normalised time s (static ones never move)."""
        c = self.client
        for i in self._movers:
            off, yaw = scripted_pose(self.spec.objects[i], s)
            quat, pivot = self._turn(i, yaw)
            pos = self.start_pos[i] + off + pivot
            c.resetBasePositionAndOrientation(self.body_ids[i], pos.tolist(), quat)

    def _turn(self, i: int, yaw) -> tuple[list[float], np.ndarray]:
        """Orientation (x, y, z, w) of mover i at `yaw` degrees and the shift (3,) that makes the
        turn pivot about its box centre; kept while the yaw stays the same (most scripted motions
        never turn, and a turning one keeps its last yaw once it has stopped)."""
        key = (yaw, math.copysign(1.0, yaw))  # -0.0 and 0.0 give different signed zeros below
        kept = self._turns.get(i)
        if kept is not None and kept[0] == key:
            return kept[1], kept[2]
        h = 0.5 * np.radians(yaw)
        qz = (0.0, 0.0, float(np.sin(h)), float(np.cos(h)))
        a = np.radians(yaw - self.spec.objects[i].yaw_deg)  # turn about world up since the start
        cx, cy, _ = self._box_offset[i]
        ca, sa = np.cos(a), np.sin(a)
        pivot = np.array([cx - (ca * cx - sa * cy), cy - (sa * cx + ca * cy), 0.0])
        quat = _quat_mul(qz, self._up_quat[i])
        self._turns[i] = (key, quat, pivot)
        return quat, pivot

    def advance_to(self, t: int) -> None:
        """Bring the world to frame t (frames must be visited in increasing order)."""
        if t < self.frame:
            raise ValueError(f"frames must be visited in order (at {self.frame}, asked {t})")
        n = self.spec.num_frames
        while self.frame < t:
            if self.frame >= 0 and self._dynamic:
                # Kinematic movers are posed at every sub-step so contacts with them are smooth.
                for k in range(1, self.substeps + 1):
                    self._set_kinematic((self.frame + k / self.substeps) / max(n - 1, 1))
                    self.client.stepSimulation()
            self.frame += 1
        self._set_kinematic(t / max(n - 1, 1))
        if not self._dynamic:
            return  # never stepped: every joint is still where _build_object set it, at 0
        for b, joints in zip(self.body_ids, self.joint_ids):
            for j in joints:
                self.client.resetJointState(b, j, 0.0)

    def object_poses(self) -> np.ndarray:
        """Object-frame -> world transforms of all objects now. Returns (K, 4, 4) float64."""
        c = self.client
        out = np.tile(np.eye(4), (len(self.body_ids), 1, 1))
        for i, b in enumerate(self.body_ids):
            pos, orn = c.getBasePositionAndOrientation(b)
            out[i, :3, :3] = np.asarray(c.getMatrixFromQuaternion(orn), dtype=np.float64).reshape(3, 3)
            out[i, :3, 3] = pos
        return out

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client = None  # type: ignore[assignment]

    def __enter__(self) -> "World":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
