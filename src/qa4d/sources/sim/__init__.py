"""The built-in 4D scene simulator (PyBullet + TinyRenderer, CPU only); see docs/simulator.md.

scenario (seeded specs, pure data) -> physics (PyBullet world) -> render (TinyRenderer) ->
tracks -> simulate (format v1 scenes, batches) -> cli (`qa4d simulate`).
"""
