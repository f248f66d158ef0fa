"""Pairs of submissions whose code is suspiciously alike, for a human to review.

Uses copydetect (winnowing fingerprints, as MOSS does; tokenised, so renaming variables does
not hide a copy). Each submission's code cells become one .py file; the stub notebook's own
code cells are the boilerplate, so code every student was given never counts as copied. The
notebooks are parsed, never executed. Writes ``similarity.html`` (a table of pairs above the
threshold, with the students) and copydetect's own ``similarity-code.html`` (the overlapping
code highlighted side by side).
"""

from __future__ import annotations

import html
import tempfile
from pathlib import Path

from . import notebook, units

THRESHOLD = 0.5  # fraction of one submission's fingerprints found in the other


def code_of(path: Path, unit_name: str) -> str:
    """The code cells of a submission (notebook or export zip); '' if it cannot be read."""
    try:
        return "\n\n".join(notebook.load(path, unit_name).cells)
    except Exception:  # unreadable for any reason: compared as empty
        return ""


def similar_pairs(items, unit_name: str, html_report: Path | None = None) -> list[tuple[float, float, str, str]]:
    """(similarity of a to b, of b to a, key a, key b) for every pair above THRESHOLD."""
    from copydetect import CopyDetector

    stub = units.ROOT / "assignments" / unit_name / f"{unit_name}.ipynb"
    with tempfile.TemporaryDirectory(prefix="autograder-similarity-") as tmp:
        code, boiler = Path(tmp) / "code", Path(tmp) / "stub"
        code.mkdir()
        boiler.mkdir()
        (boiler / "stub.py").write_text(code_of(stub, unit_name))
        keys = {}
        for item in items:
            text = code_of(item.path, unit_name) if item.path is not None else ""
            if text.strip():
                (code / f"{item.key}.py").write_text(text)
                keys[str(code / f"{item.key}.py")] = item.key
        if len(keys) < 2:
            return []
        detector = CopyDetector(test_dirs=[str(code)], ref_dirs=[str(code)], boilerplate_dirs=[str(boiler)],
                                extensions=["py"], display_t=THRESHOLD, autoopen=False, silent=True,
                                out_file=str(html_report) if html_report else "/dev/null")
        detector.run()
        pairs, seen = [], set()
        for test_sim, ref_sim, a, b, *_ in detector.get_copied_code_list():
            pair = tuple(sorted((keys[a], keys[b])))
            if a == b or pair in seen:
                continue
            seen.add(pair)
            pairs.append((round(float(test_sim), 3), round(float(ref_sim), 3), keys[a], keys[b]))
        if html_report is not None:
            detector.generate_html_report()
    return sorted(pairs, key=lambda p: (-max(p[0], p[1]), p[2], p[3]))


def write_similarity_report(items, unit_name: str, folder: Path) -> str:
    """Write similarity.html (and copydetect's code view) into `folder`; returns the file name."""
    folder.mkdir(parents=True, exist_ok=True)
    pairs = similar_pairs(items, unit_name, folder / "similarity-code.html")
    who = {item.key: ", ".join(s.name or s.email or s.sid for s in item.students) for item in items}
    e = html.escape
    rows = "".join(f"<tr><td>{a_sim:.0%}</td><td>{b_sim:.0%}</td><td>{e(a)} ({e(who.get(a, ''))})</td>"
                   f"<td>{e(b)} ({e(who.get(b, ''))})</td></tr>" for a_sim, b_sim, a, b in pairs)
    code_view = '<p><a href="similarity-code.html">The overlapping code, highlighted</a> (copydetect).</p>' \
        if (folder / "similarity-code.html").exists() else ""
    (folder / "similarity.csv").write_text(
        "similarity_a,similarity_b,submission_a,submission_b\n"
        + "".join(f"{x},{y},{a},{b}\n" for x, y, a, b in pairs))
    (folder / "similarity.html").write_text(f"""<!doctype html><html><head><meta charset="utf-8">
<title>Similarity: {e(unit_name)}</title></head><body style="font-family:sans-serif">
<h1>Similar submissions: {e(unit_name)}</h1>
<p>{len(pairs)} pair(s) where at least {THRESHOLD:.0%} of one submission's code fingerprints (the stub's
own code excluded) appear in the other. Similar code is a reason to look, not proof of copying:
short functions written from the same textbook formula can match.</p>{code_view}
<table border=1 cellpadding=4><tr><th>a in b</th><th>b in a</th><th>submission a</th><th>submission b</th></tr>
{rows}</table></body></html>
""")
    return "similarity.html"
