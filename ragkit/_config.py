"""One frozen configuration object, passed explicitly to everything that needs settings."""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ragkit._errors import ConfigError
from ragkit.ingest import OCR_MODES, OcrMode
from ragkit.store._connect import DEFAULT_BUSY_TIMEOUT

__all__ = ["Config", "default_home"]

DEFAULT_ENCODER = "minilm-l6-v2-int8"
E5_ENCODER = "multilingual-e5-small-int8"
DEFAULT_GENERATOR = "qwen2.5-coder-0.5b-q4km"
LARGE_GENERATOR = "qwen2.5-coder-1.5b-q4km"
TINY_GENERATOR = "smollm2-135m-q4_1"


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$RAGKIT_HOME`` if set (in ``environ``, by default the process's environment), else
    the platform's per-user data directory."""
    env = (os.environ if environ is None else environ).get("RAGKIT_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("ragkit", appauthor=False))


LADDERS = ("auto", "ladder")
"""The ``Config.generator`` values that choose among ``Config.ladder``'s packs."""


@dataclass(frozen=True)
class Config:
    """Every tunable of ragkit. Construct once and pass it on; use :meth:`replace` to vary it.

    The retrieval and prompt defaults are sized for a 2-core laptop: prompt reading dominates
    time to first token on CPU, so the passage budget is counted in tokens.
    """

    home: Path = field(default_factory=default_home)
    # The encoder pack: "auto" is the one the index was built with (an index records its
    # pack's name), and DEFAULT_ENCODER for a new index; a pack name asks for that pack, and
    # an index built with another one refuses it (EncoderMismatchError).
    encoder: str = "auto"
    # The generator packs that may answer, smallest first. "ladder" climbs them: each rung's
    # answer is judged and a failed one goes to the next, larger model. "auto" answers with
    # the largest one installed alone: on SQuAD 2.0 dev part A (README) the 0.5B's answers
    # failed the check 87% of the time, so climbing doubled the time to first token (11.6 s
    # against 5.9 under load) for the same F1 (0.534 / 0.525), and replayed over 90 + 90
    # questions it left more wrong answers unflagged than the 1.5B alone at every judge
    # threshold. "auto" answers with the default pack instead when one is set (`ragkit models
    # default`, ModelPacks.set_default), and with the only generator pack installed when none
    # of the ladder's is. A pack name answers with that pack alone.
    generator: str = "auto"
    ladder: tuple[str, ...] = (DEFAULT_GENERATOR, LARGE_GENERATOR)
    # The model that judges whether a cited passage states an answer sentence: "auto" is the
    # ladder's last (largest) pack when installed, else none; a pack name; or "off" (the
    # lexical check alone).
    # Measured on constructed cases, Qwen-0.5B says "no" to right and wrong answers alike
    # (log-odds -0.7..-0.3) while the 1.5B tells them apart (right +1.8..+2.3, wrong
    # -0.3..+0.6), so the larger model judges whichever model answered.
    judge: str = "auto"
    # Log-odds of the judge's "yes" over "no" at or above which a sentence is supported, and
    # at or above which a lower rung's answer stands instead of going to the next model
    # (`ragkit eval calibrate --details` prints both trade-offs). Measured on SQuAD 2.0 dev
    # part A (20 + 20 questions, README): the 0.5B's answers the judge passes at 1.0 still
    # miss the gold answer 29% of the time, at 2.0 none of them did, so a lower rung must
    # convince the judge more than a final answer must. Cross-validation across articles
    # with at most 10% of answerable questions declined picks -0.5, where the judge passes
    # "90 days" / "6 months" from the wrong facts (tests/test_judge.py) and 16-19% wrong
    # answers go unflagged; 0.75 lets 12-14% through and declines 22% of answerable ones.
    judge_threshold: float = 0.75
    escalate_below: float = 2.0
    # Chunks stay well under the encoder's 256-token window; MiniLM was trained on short texts.
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    # Hybrid retrieval: candidates from each side, fused by their z-scores among the first
    # ``candidates`` with this share for the vectors (ragkit._retrieval.fuse), or none in
    # a language the encoder was not trained on. 0.5 is the middle of the plateau (0.45 to
    # 0.525, mean nDCG@10 within 0.0005) over SciFact, SQuAD 2.0 part A and XQuAD en/de/es
    # with both encoders (README, "Hybrid retrieval").
    top_k: int = 4
    candidates: int = 40
    dense_weight: float = 0.5
    # Neighbouring chunks added on each side of a retrieved one, for context (0: none).
    expand_neighbors: int = 0
    # Cosine similarity of the best passage below which ragkit abstains without the model.
    # Measured on SQuAD 2.0 dev part A (all 2,805 questions, MiniLM int8): below 0.35 lie
    # ~7% of answerable and ~14% of unanswerable questions; 0.38 would reach 10% of the
    # answerable ones overall and 28% in one article, so 0.35 leaves room for other corpora.
    min_similarity: float = 0.35
    # Asking: the best ``ask_passages`` are cut to their most relevant sentences (at most
    # ``passage_sentences`` each) and at most ``prompt_passages`` of them are packed into
    # ``context_tokens`` generator tokens. Prompt reading dominates time to first token on a
    # CPU (~125 tokens/s for Qwen-0.5B on 2 cores), so the budget is small; `ragkit eval
    # calibrate` prints how often the answer still reaches the prompt at each budget.
    ask_passages: int = 6
    prompt_passages: int = 4
    passage_sentences: int = 3
    context_tokens: int = 220
    # An answer sentence is supported when the passage it cites holds enough of its new
    # words and is close enough in meaning (see _support.support; `ragkit eval calibrate`
    # prints true claims passed and fabricated ones flagged at each threshold).
    support_threshold: float = 0.75
    # Extractive answers quote at most this many sentences, and none (abstaining) when the
    # best sentence's score (cosine to the question + half its share of the question's
    # words) is below extract_min_score. Measured with `ragkit eval calibrate` on SQuAD 2.0
    # dev part A (300 + 300): 0.6 declines 0.7% of answerable questions (0.7: 6.1%); on the
    # sample documents the answerable questions' best sentences score 0.77 and more, a
    # question they say nothing about (amoxicillin dosage) 0.49.
    extract_sentences: int = 3
    extract_min_score: float = 0.6
    n_ctx: int = 4096
    # Answers are one to three short sentences (~30-90 tokens); generation runs at ~40
    # tokens/s on 2 idle cores, so a runaway answer is cut off after ~5 s.
    max_answer_tokens: int = 200
    temperature: float = 0.0
    threads: int | None = None
    # Parsing runs in worker processes, each file under these limits (workers=0: in-process).
    parse_workers: int | None = None
    parse_timeout: float = 120.0
    parse_memory_mb: int = 2048
    # Chunks indexed per file; past it the rest of the file is skipped with a warning. It
    # bounds what one file costs (a 90,000-page PDF would take ~90,000 chunks, hundreds of
    # MB of index and minutes of embedding) while leaving any real document whole: a
    # 1,000-page contract makes ~3,000-5,000 chunks.
    max_chunks_per_file: int = 20_000
    # PDF pages read per file, for the same reason: past it the rest is skipped with a
    # warning, before any page past it costs text extraction or OCR.
    max_pages_per_file: int = 10_000
    # PDF pages without a text layer (scans) are read by OCR: "auto" when the OCR extra is
    # installed, "force" every page (a scan with a bad text layer), "off" never.
    ocr: OcrMode = "auto"
    # Seconds a write to the index waits for another process's write before IndexBusyError.
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    # A PostgreSQL index: 0 opens one connection of its own (one thread, as a command uses
    # it); N borrows each call's connection from a pool of up to N shared by every index
    # this process opens on the same database, and replaces a connection the server dropped
    # (`ragkit serve` sets it). A SQLite index ignores it.
    postgres_pool: int = 0
    # Model files over 64 MiB (GGUFs) are fully re-hashed on load when their last full hash
    # is older than this (0: on every load); in between, a 4 MiB sample of blocks is checked.
    # Smaller files (the encoder) are fully re-hashed on every load.
    verify_after_days: float = 7.0

    def __post_init__(self) -> None:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ConfigError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_tokens "
                f"({self.chunk_tokens}); lower the overlap."
            )
        if not 0 < self.chunk_tokens <= 254:
            raise ConfigError(
                f"chunk_tokens ({self.chunk_tokens}) must be between 1 and 254: the encoder "
                "reads at most 256 tokens including its two special tokens."
            )
        if self.top_k < 1 or self.candidates < self.top_k:
            raise ConfigError(
                f"top_k ({self.top_k}) must be >= 1 and candidates ({self.candidates}) >= top_k."
            )
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ConfigError(
                f"dense_weight ({self.dense_weight}) must be between 0 (full text only) and 1 "
                "(vectors only)."
            )
        if min(self.ask_passages, self.prompt_passages, self.passage_sentences) < 1:
            raise ConfigError(
                f"ask_passages ({self.ask_passages}), prompt_passages ({self.prompt_passages}) "
                f"and passage_sentences ({self.passage_sentences}) must all be >= 1."
            )
        if self.context_tokens + self.max_answer_tokens + 256 > self.n_ctx:
            raise ConfigError(
                f"context_tokens ({self.context_tokens}) + max_answer_tokens "
                f"({self.max_answer_tokens}) + 256 for instructions must fit in n_ctx "
                f"({self.n_ctx}); raise n_ctx or lower the budgets."
            )
        object.__setattr__(self, "ladder", tuple(self.ladder))
        if not self.ladder:
            raise ConfigError("ladder is empty; name at least one generator pack.")
        if not math.isfinite(self.judge_threshold):
            raise ConfigError(f"judge_threshold ({self.judge_threshold}) must be a finite number.")
        if not self.escalate_below >= self.judge_threshold:
            raise ConfigError(
                f"escalate_below ({self.escalate_below}) must be at least judge_threshold "
                f"({self.judge_threshold}): a lower rung's answer that the judge would not "
                "pass as a final answer cannot stand."
            )
        if self.max_pages_per_file < 1:
            raise ConfigError(
                f"max_pages_per_file ({self.max_pages_per_file}) must be >= 1: it is how "
                "many pages of each PDF are read."
            )
        if self.ocr not in OCR_MODES:
            raise ConfigError(
                f"ocr ({self.ocr!r}) must be one of {', '.join(OCR_MODES)}: when scanned "
                "PDF pages are read by OCR."
            )
        if self.max_chunks_per_file < 1:
            raise ConfigError(
                f"max_chunks_per_file ({self.max_chunks_per_file}) must be >= 1: it is how "
                "many chunks of each file are indexed."
            )
        if self.busy_timeout < 0:
            raise ConfigError(f"busy_timeout ({self.busy_timeout}) must be >= 0 seconds.")
        if self.postgres_pool < 0:
            raise ConfigError(
                f"postgres_pool ({self.postgres_pool}) must be 0 (a connection of its own) or "
                "the most connections a pool may hold."
            )
        if not (math.isfinite(self.verify_after_days) and self.verify_after_days >= 0):
            raise ConfigError(
                f"verify_after_days ({self.verify_after_days}) must be a finite number of days "
                ">= 0 (0: fully re-hash model files on every load)."
            )
        object.__setattr__(self, "home", Path(self.home).expanduser())

    def judge_pack(self, installed: Collection[str]) -> str | None:
        """The generator pack that judges answers, given the ``installed`` packs' names:
        ``judge`` when it names a pack, for ``"auto"`` the ladder's last (largest) pack when
        it is installed, else ``None`` (the lexical check alone: a small model is no judge)."""
        if self.judge == "off":
            return None
        if self.judge != "auto":
            return self.judge
        return self.ladder[-1] if self.ladder[-1] in installed else None

    @property
    def models_dir(self) -> Path:
        """Where model packs live: ``<home>/models``."""
        return self.home / "models"

    @property
    def default_db(self) -> Path:
        """The index used when no database path is given: ``<home>/index.db``."""
        return self.home / "index.db"

    def encoder_pack(self, recorded: str | None = None) -> str:
        """The encoder pack to load: the configured one, else for "auto" the index's
        ``recorded`` pack, else the default."""
        if self.encoder != "auto":
            return self.encoder
        return recorded or DEFAULT_ENCODER

    @property
    def n_threads(self) -> int:
        """Worker threads for the encoder and generator (all cores unless set)."""
        return self.threads or os.cpu_count() or 1

    @property
    def n_parse_workers(self) -> int:
        """Parser processes: one per core the encoder leaves over, at least one."""
        if self.parse_workers is not None:
            return self.parse_workers
        return max(1, (os.cpu_count() or 2) - 1)

    def replace(self, **changes: Any) -> Config:
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)
