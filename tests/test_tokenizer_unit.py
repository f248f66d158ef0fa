"""The tokenizer unit: what is specific to it, and the wire support it added to the engine (bytes).

Students write a byte-level BPE tokenizer in plain Python (merge, train_bpe, encode, decode):
lists of ints, tuples, str and bytes cross the wire, and train_bpe has a judged check that
trains on about 1 MB of generated text within a CPU-time budget.

Its reference, stub and corpus are graded by tests/test_units.py, like every unit's; here: bytes
on the wire, the pre-tokenization pattern, the training text, the classic-bug examples, the
feedback on a minbpe-style answer and on each bug, the quadratic trainer losing only its timed
check, and the public checks catching the classic bugs.
"""

from __future__ import annotations

import inspect
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder import build, units
from autograder import worker as wire
from autograder.replies import MalformedReply, check as check_reply

from conftest import UnitFiles, feedback

UNIT = "tokenizer"
FILES = UnitFiles(UNIT)
POINTS = {"merge": 1.5, "train_bpe": 5.0, "encode": 3.0, "decode": 3.0}


# --------------------------------------------------------------------------- engine support


def roundtrip(value):
    blobs: list[bytes] = []
    header = json.loads(json.dumps(wire.encode(value, blobs)))  # through JSON, as on the wire
    return wire.decode(header, blobs)


def test_bytes_cross_the_wire_as_bytes():
    vocab = [bytes([i]) for i in range(256)] + [b"", b"\xc3\xa9", "<|endoftext|>".encode()]
    back = roundtrip(([(97, 98)], vocab, "日本 😀"))
    assert back == ([(97, 98)], vocab, "日本 😀") and all(type(b) is bytes for b in back[1])

    class Lying(bytes):
        def __eq__(self, other):
            return True

        __hash__ = bytes.__hash__

    assert isinstance(roundtrip(Lying(b"x")), wire.Opaque)  # a subclass is not plain data
    assert isinstance(roundtrip(bytearray(b"x")), wire.Opaque)


def test_a_reply_must_carry_the_bytes_it_refers_to():
    ok = {"status": "ok", "value": {"$bytes": 0}, "args_after": {"$tuple": []},
          "kwargs_after": {"$dict": {}}, "blobs": 1}
    check_reply("call", ok)
    for index in (1, -1, "0"):
        with pytest.raises(MalformedReply, match="missing array"):
            check_reply("call", dict(ok, value={"$bytes": index}))


# --------------------------------------------------------------------------- the unit itself


def test_spec_points_and_questions(unit):
    assert {q.name: q.points for q in unit.questions} == POINTS
    assert unit.mutation_floor is not None
    for question in unit.questions:
        assert question.public and len(question.checks) >= 1


@given(st.text())
def test_the_pattern_cuts_any_text_into_pre_tokens_that_join_back(text):
    reference = units.reference(UNIT)
    assert units.public_checks(UNIT).PATTERN == reference.PATTERN  # the notebook's constant is the reference's
    assert "".join(re.findall(reference.PATTERN, text)) == text


def test_the_training_text_is_fixed_and_about_one_megabyte():
    from autograder.units import tokenizer

    text = tokenizer.big_call().args[0]
    assert tokenizer.big_call([]) is tokenizer.big_call(["other cells"])  # one call per session
    assert len(text) == 1_000_000 and text == tokenizer.training_text()
    assert "<|endoftext|>" in text and "😀" in text and "日本語" in text


def test_the_classic_bug_examples_separate_the_bugs(reference):
    """Each train_bpe example is answered as documented (the hints say what the bug gives)."""
    from autograder.units import tokenizer

    answers = [reference.train_bpe(*ex.call.args)[0] for ex in tokenizer.TRAIN_EXAMPLES]
    assert answers == [[(97, 98)], [(32, 97)], [(32, 98)], [(97, 98)], [], []]
    assert [reference.encode(*ex.call.args) for ex in tokenizer.ENCODE_EXAMPLES] == [
        [97, 256], [256, 257], [97, 258, 98], [257, 256]]
    assert [reference.decode(*ex.call.args) for ex in tokenizer.DECODE_EXAMPLES] == ["é", "😀\ufffd"]


def test_a_minbpe_style_answer_is_told_what_type_to_return():
    """minbpe returns merges as a dict {(a, b): id} and the vocabulary as a dict {id: bytes};
    neither crosses the wire as plain data, and the feedback names the student's own type."""
    from autograder.units.tokenizer import SameTraining

    vocab = [bytes([i]) for i in range(256)] + [b"ab"]
    merges_dict = roundtrip({(97, 98): 256})
    said = SameTraining()(([(97, 98)], vocab), (merges_dict, vocab), 0.0).summary
    assert said.startswith("merges must be a list of pairs (a, b) of ints, got dict {(97, 98): 256}"), said
    vocab_dict = roundtrip(dict(enumerate(vocab)))
    said = SameTraining()(([(97, 98)], vocab), ([(97, 98)], vocab_dict), 0.0).summary
    assert said.startswith("vocab must be a list of bytes, got dict {0: b"), said
    assert SameTraining()(([(97, 98)], vocab), ([[97, 98]], tuple(vocab)), 0.0) is None  # lists, tuples alike


# --------------------------------------------------------------------------- reference and stub


# --------------------------------------------------------------------------- wrong and correct


def test_a_quadratic_trainer_loses_the_timed_check_only(grader, unit):
    """minbpe's trainer learns the right merges, too slowly: only the budget check fails, and
    its message names the budget."""
    report = grader.cached("wrong/quadratic_trainer")
    failed = [(q.name, c) for q in report.questions for c in q.checks if not c.passed]
    assert [(q, c.name) for q, c in failed] == [("train_bpe", unit.questions[1].checks[-1].name)], feedback(report)
    assert "budget of 6 s of CPU time" in failed[0][1].message, failed[0][1].message


@pytest.mark.parametrize("spec_name, question, words", [
    ("wrong/tie_first_seen", "train_bpe", "merge 0 is (98, 97) = b'ba', expected (32, 97) = b' a'"),
    ("wrong/encode_leftmost_first", "encode", "id 0 is 257, expected 97"),
    ("wrong/decode_token_by_token", "decode", "expected 'é'"),
])
def test_feedback_shows_where_the_answer_differs(grader, spec_name, question, words):
    message = "\n".join(c.message for q in grader.cached(spec_name).questions if q.name == question
                        for c in q.checks if not c.passed)
    assert words in message, message


# --------------------------------------------------------------------------- hostile


# --------------------------------------------------------------------------- public checks and bundle


def _public_checks():
    return [(q.name, check) for q in units.load(UNIT).questions for check in q.public]


def _call_public(check, namespace):
    check(**{p: namespace[p] for p in inspect.signature(check).parameters})


@pytest.mark.parametrize("name", ["tie_first_seen", "overlapping_pairs", "across_pretokens",
                                  "vocab_size_ignores_specials", "specials_in_training", "encode_leftmost_first",
                                  "encode_special_as_bytes", "encode_special_shortest_first", "decode_token_by_token",
                                  "decode_strict_utf8", "decode_negative_ids", "merge_overlapping"])
def test_public_checks_catch_classic_bugs_without_a_reference(name):
    """The worked examples printed in the notebook catch each classic bug before submission."""
    entry = FILES.load_entry("wrong", name)
    namespace: dict = {}
    exec(compile(entry.preamble + "\n" + "\n".join(entry.functions.values()), name, "exec"), namespace)
    failed = set()
    for question, check in _public_checks():
        try:
            _call_public(check, namespace)
        except AssertionError:
            failed.add(question)
    assert failed == set(entry.loses), failed


def test_a_references_api_constant_is_public_but_its_code_is_not():
    """The leak check lets the notebook state the reference's PATTERN (a constant the API
    fixes), and still refuses its code."""
    source = FILES.reference.read_text()
    fragments = [text for _, text in build.secret_fragments(source, api_constants=True)]
    assert not [f for f in fragments if "(?:[sdmt]|ll|ve|re)" in f]
    assert "pair = min(counts, key=lambda p: (-counts[p], p))" in fragments
    assert [f for _, f in build.secret_fragments(source) if "(?:[sdmt]|ll|ve|re)" in f]  # not for a spec
