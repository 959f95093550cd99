"""physics.Client keeps each bound PyBullet function, per client: two worlds never share one."""

import pybullet_data

from qa4d.sources.sim.physics import Client, p


def test_bound_functions_are_kept_per_client_and_reach_their_own_world():
    a, b = Client(connection_mode=p.DIRECT), Client(connection_mode=p.DIRECT)
    try:
        plane = pybullet_data.getDataPath() + "/plane.urdf"
        for _ in range(2):
            a.loadURDF(plane)  # the second call goes through the kept partial
        b.loadURDF(plane)
        assert "loadURDF" in a.__dict__ and a.loadURDF is a.loadURDF
        assert a.getNumBodies() == 2 and b.getNumBodies() == 1
        assert a._client != b._client
    finally:
        a.disconnect()
        b.disconnect()
    assert "disconnect" not in a.__dict__ and a._client == -1  # BulletClient's bookkeeping still runs
