"""torch modules shared by training (qa4d.train) and evaluation (qa4d.bench.models.hf): the
timestamp positional encoding, the 4D perception teacher and the geometry-token adapter. They
import torch when used; qa4d.train and qa4d.bench both read them, neither is read here."""
