"""The qa4d dataset format (records, schema, samples.jsonl); see records.py and docs/samples.md."""

from qa4d.dataset.records import (
    ANSWER_FORMATS,
    SAMPLES_FILE,
    SCHEMA_PATH,
    SPLITS,
    DatasetError,
    Record,
    RecordError,
    Split,
    iter_samples,
    iter_splits,
    load_schema,
    read_dataset_info,
    read_samples,
    resolve_splits,
    schema_errors,
    validate_record,
    write_samples,
)

__all__ = [
    "ANSWER_FORMATS", "SAMPLES_FILE", "SCHEMA_PATH", "SPLITS", "DatasetError", "Record", "RecordError", "Split",
    "iter_samples", "iter_splits", "load_schema", "read_dataset_info", "read_samples", "resolve_splits",
    "schema_errors", "validate_record", "write_samples",
]
