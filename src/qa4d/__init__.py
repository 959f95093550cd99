"""qa4d: teach and measure 4D (3D + time) understanding in vision-language models.

Data flows one way: sources -> scene -> engine -> datasets -> export / bench / train.
"""

__version__ = "0.1.0"
