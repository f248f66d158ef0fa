"""The tokenizer unit graded end to end, and the wire support it added to the engine (bytes).

Students write a byte-level BPE tokenizer in plain Python (merge, train_bpe, encode, decode):
lists of ints, tuples, str and bytes cross the wire, and train_bpe has a judged check that
trains on about 1 MB of generated text within a CPU-time budget.

Every corpus submission is the stub notebook (assignments/tokenizer/tokenizer.ipynb) with code
put into it (conftest.UnitFiles, tests/corpus/README.md):

* wrong/*     one classic bug each: points lost on exactly the one question its LOSES names,
              with the first hint its HINT names (quadratic_trainer: the timed check only);
* correct/*   correct code written differently from the reference: full marks;
* hostile/*   a base submission plus hostile cells: no question scores above the base's.

Each corpus entry is graded once per session (conftest's Grader.cached, shared by xdist workers).
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import re

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder import build, units
from autograder import worker as wire
from autograder.replies import MalformedReply, check as check_reply

from conftest import PROJECT, UnitFiles

UNIT = "tokenizer"
FILES = UnitFiles(UNIT)
WRONG, CORRECT, HOSTILE = (FILES.corpus_names(kind) for kind in ("wrong", "correct", "hostile"))
POINTS = {"merge": 1.5, "train_bpe": 5.0, "encode": 3.0, "decode": 3.0}


@pytest.fixture(scope="module")
def grader(grader_for):
    return grader_for(UNIT)


@pytest.fixture(scope="module")
def spec():
    return units.load(UNIT)


@pytest.fixture(scope="module")
def reference():
    return units.reference(UNIT)


def feedback(report) -> str:
    return json.dumps(report.to_gradescope(), indent=1) + "\n" + "\n".join(report.notes)


def secret_lines() -> list[str]:
    """Distinctive code lines of the reference (not its docstrings, which the stub shows)."""
    stub, source = FILES.stub.read_text(), FILES.reference.read_text()
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            for stmt in node.body[1:] if ast.get_docstring(node) else node.body:
                for line in ast.get_source_segment(source, stmt).splitlines():
                    line = line.strip()
                    if len(line) >= 25 and not line.startswith(("#", "raise ValueError", "f\"")) \
                            and json.dumps(line)[1:-1] not in stub:
                        lines.add(line)
    assert len(lines) >= 8
    return sorted(lines)


def assert_no_secrets(text: str) -> None:
    leaked = [line for line in secret_lines() if line in text]
    assert not leaked, f"hidden source reached the student: {leaked[:3]}"


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


def test_spec_points_and_questions(spec):
    assert {q.name: q.points for q in spec.questions} == POINTS
    assert spec.mutation_floor is not None
    for question in spec.questions:
        assert question.public and len(question.checks) >= 1


def test_stub_notebook_is_generated_from_the_reference():
    """assignments/tokenizer/tokenizer.ipynb is what make_notebook.py writes (regenerate it)."""
    module_spec = importlib.util.spec_from_file_location("make_notebook", FILES.stub.parent / "make_notebook.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    assert nbformat.writes(module.build()) == nbformat.writes(FILES.stub_notebook())


@given(st.text())
def test_the_pattern_cuts_any_text_into_pre_tokens_that_join_back(text):
    from autograder.units import tokenizer_public

    reference = units.reference(UNIT)
    assert tokenizer_public.PATTERN == reference.PATTERN  # the notebook's constant is the reference's
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


def test_corpus_is_big_enough():
    assert len(WRONG) >= 10 and len(CORRECT) >= 3 and len(HOSTILE) >= 1
    every_question = set().union(*(FILES.load_entry("wrong", n).loses for n in WRONG))
    assert every_question == set(POINTS), "some question has no wrong submission"


# --------------------------------------------------------------------------- reference and stub


def test_reference_scores_full_marks(grader):
    report = grader.cached("reference")
    assert report.status == "ok", report.notes
    assert report.scores() == POINTS, feedback(report)
    assert not report.notes, report.notes  # every notebook cell runs, demos included


def test_untouched_stub_scores_zero_with_a_message_per_question(grader):
    report = grader.cached("stub")
    assert report.score == 0 and report.max_score == sum(POINTS.values())
    for question in report.questions:
        for check in question.checks:
            assert "not implemented" in check.message, (question.name, check.message)


# --------------------------------------------------------------------------- wrong and correct


@pytest.mark.parametrize("name", WRONG)
def test_wrong_submission_loses_points_only_where_declared(grader, name):
    entry = FILES.load_entry("wrong", name)
    report = grader.cached(entry.id)
    assert report.status == "ok", report.notes
    assert not FILES.lost_and_hint(entry, report, POINTS), feedback(report)
    for question in report.questions:
        for check in question.checks:
            assert check.passed or check.message.strip(), (question.name, check.name)
    assert_no_secrets(feedback(report))


def test_a_quadratic_trainer_loses_the_timed_check_only(grader, spec):
    """minbpe's trainer learns the right merges, too slowly: only the budget check fails, and
    its message names the budget."""
    report = grader.cached("wrong/quadratic_trainer")
    failed = [(q.name, c) for q in report.questions for c in q.checks if not c.passed]
    assert [(q, c.name) for q, c in failed] == [("train_bpe", spec.questions[1].checks[-1].name)], feedback(report)
    assert "budget of 6 s of CPU time" in failed[0][1].message, failed[0][1].message


@pytest.mark.parametrize("name", CORRECT)
def test_correct_variant_scores_full_marks(grader, name):
    report = grader.cached(f"correct/{name}")
    assert report.status == "ok", report.notes
    assert report.scores() == POINTS, feedback(report)


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


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_submission_gains_nothing(grader, name, leftovers, tmp_path):
    entry = FILES.load_entry("hostile", name)
    report = grader.entry(entry, out_dir=tmp_path)
    assert not leftovers, "processes survived grading"
    base = grader.cached(entry.base)
    assert all(report.scores()[q] <= score for q, score in base.scores().items()), feedback(report)
    assert report.score < sum(POINTS.values())
    assert_no_secrets(feedback(report))


# --------------------------------------------------------------------------- public checks and bundle


def _public_checks():
    return [(q.name, check) for q in units.load(UNIT).questions for check in q.public]


def _call_public(check, namespace):
    check(**{p: namespace[p] for p in inspect.signature(check).parameters})


@pytest.mark.parametrize("question,check", _public_checks(), ids=lambda v: getattr(v, "__name__", v))
def test_public_check_passes_on_the_reference(reference, question, check):
    _call_public(check, vars(reference))


def _stub_namespace() -> dict:
    namespace: dict = {}
    for cell in FILES.stub_notebook().cells:
        if cell.cell_type == "code" and any(f"def {n}(" in cell.source for n in FILES.functions):
            exec(compile(cell.source, "<stub>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("question,check", _public_checks(), ids=lambda v: getattr(v, "__name__", v))
def test_public_check_says_not_implemented_on_the_stub(question, check):
    with pytest.raises(AssertionError, match="not implemented yet"):
        _call_public(check, _stub_namespace())


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


def test_student_bundle_has_stubs_and_no_hidden_code():
    """What `python -m autograder build tokenizer` ships to students: the stub notebook, the
    public checks and an Otter test per question, with no line of the reference or the spec."""
    unit = units.load(UNIT)
    files = build.student_files(unit, PROJECT)
    build.check_no_leaks(unit, files, PROJECT)
    assert {f"tests/{q}.py" for q in POINTS} <= set(files)
    notebook = json.loads(files["tokenizer.ipynb"])
    assert notebook["metadata"]["otter"]["assignment_name"] == UNIT
    sources = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    for name in FILES.functions:
        cell = next(s for s in sources if f"def {name}(" in s)
        assert "raise NotImplementedError" in cell
    assert_no_secrets("\n".join(f.decode(errors="replace") for f in files.values()))


def test_a_references_api_constant_is_public_but_its_code_is_not():
    """The leak check lets the notebook state the reference's PATTERN (a constant the API
    fixes), and still refuses its code."""
    source = FILES.reference.read_text()
    fragments = [text for _, text in build.secret_fragments(source, api_constants=True)]
    assert not [f for f in fragments if "(?:[sdmt]|ll|ve|re)" in f]
    assert "pair = min(counts, key=lambda p: (-counts[p], p))" in fragments
    assert [f for _, f in build.secret_fragments(source) if "(?:[sdmt]|ll|ve|re)" in f]  # not for a spec
