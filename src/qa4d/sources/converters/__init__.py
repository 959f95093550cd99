"""Converters of real and rendered 4D datasets to scene format v1 (`qa4d convert`).

One converter per module here, registered by name with `@register_converter` (base.py); the
registry imports every module of this package on first use, so adding a dataset is one file.
"""

from qa4d.sources.converters.base import (
    ConvertError,
    ConvertSettings,
    Converted,
    Converter,
    converter_names,
    get_converter,
    register_converter,
)

__all__ = ["ConvertError", "ConvertSettings", "Converted", "Converter", "converter_names", "get_converter",
           "register_converter"]
