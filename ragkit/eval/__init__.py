"""Benchmarks behind ``ragkit eval``: retrieval, question answering, calibration, ingest,
encryption, scale, the server's searches, and the sample questions.

Each evaluation measures ragkit against a baseline run in the same process and returns a
report whose ``lines()`` print one figure each. The CLI calls only what is exported here.
"""

from ragkit.eval._calibrate import (
    CalibrationReport,
    JudgeCalibration,
    calibrate_judge,
    evaluate_calibration,
    load_details,
)
from ragkit.eval._encryption import EncryptionBench, evaluate_encryption
from ragkit.eval._ingest import IngestBench, PdfBench, evaluate_ingest
from ragkit.eval._qa import (
    PIPELINES,
    QaReport,
    SquadData,
    default_pipelines,
    evaluate_qa,
    load_squad,
)
from ragkit.eval._retrieval import (
    MODES,
    BeirData,
    RetrievalRow,
    RetrievalSummary,
    evaluate_retrieval,
    load_beir,
    summarize_retrieval,
)
from ragkit.eval._samples import SampleQuestion, SamplesReport, evaluate_samples, load_samples
from ragkit.eval._scale import ScaleResult, evaluate_scale, summary
from ragkit.eval._serve import ServeLoadReport, ServeLoadRow, evaluate_serve

__all__ = [
    "MODES",
    "PIPELINES",
    "BeirData",
    "CalibrationReport",
    "EncryptionBench",
    "IngestBench",
    "JudgeCalibration",
    "PdfBench",
    "QaReport",
    "RetrievalRow",
    "RetrievalSummary",
    "SampleQuestion",
    "SamplesReport",
    "ScaleResult",
    "ServeLoadReport",
    "ServeLoadRow",
    "SquadData",
    "calibrate_judge",
    "default_pipelines",
    "evaluate_calibration",
    "evaluate_encryption",
    "evaluate_ingest",
    "evaluate_qa",
    "evaluate_retrieval",
    "evaluate_samples",
    "evaluate_scale",
    "evaluate_serve",
    "load_beir",
    "load_details",
    "load_samples",
    "load_squad",
    "summarize_retrieval",
    "summary",
]
