"""Answer formats: one registry, shared by the dataset format, the engine and the bench.

Each answer format (mc, yesno, free, track, number, scalar, vector, coord) is one module of this
package holding one `AnswerFormat` subclass registered with `@register_format`: its instruction
per prompt mode (instructions.json), how a reply is read, how it is scored, its chance, the
replies of the random / prior / oracle / obedient baselines and its audit baseline. The readers
share statements.py (where a reply states its answer, reasoning blocks), choices.py (which option
a reply chooses) with options.py (option sets compiled, option matching, extract_words.json) and
quantities.py (numbers, units, tuples). docs/evaluation.md,
"Answer formats", describes each format and how to add one.
"""

from qa4d.answers.base import AnswerFormat, Extraction, FieldError
from qa4d.answers.registry import find_format, format_names, formats, get_format, register_format, unregister_format

__all__ = ["AnswerFormat", "Extraction", "FieldError", "find_format", "format_names", "formats", "get_format",
           "register_format", "unregister_format"]
