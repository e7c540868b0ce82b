"""Summarise a survey run of the fuzz suite: how many cases each test tried, and each
distinct finding once with its replay script.

    NUMBANET_FUZZ_SURVEY=/tmp/fuzz.jsonl NUMBANET_FUZZ_EXAMPLES=2000 \\
        .venv/bin/python -m pytest -q tests/fuzz
    .venv/bin/python tests/fuzz/survey.py /tmp/fuzz.jsonl
"""
from __future__ import annotations

import collections
import json
import re
import sys


def signature(line: dict) -> tuple:
    """A finding without its numbers, shapes and names of inputs."""
    first = line["why"].split("\n")
    text = " ".join(first[:2])
    text = re.sub(r"array\(.*", "", text)
    text = re.sub(r"-?\d+", "N", text)
    return line["test"].split("::")[-1], line["outcome"], text[:160]


def main(path: str) -> None:
    with open(path) as f:
        lines = [json.loads(x) for x in f if x.strip()]
    tried = collections.Counter(x["test"].split("::")[-1] for x in lines)
    found = collections.defaultdict(list)
    for x in lines:
        if x["outcome"] != "ok":
            found[signature(x)].append(x)
    print(f"{len(lines)} cases, {sum(len(v) for v in found.values())} findings, "
          f"{len(found)} distinct")
    for test, n in sorted(tried.items()):
        bad = sum(len(v) for k, v in found.items() if k[0] == test)
        print(f"  {test}: {n} cases, {bad} findings")
    for (test, outcome, _text), hits in sorted(found.items(), key=lambda kv: -len(kv[1])):
        example = min(hits, key=lambda x: len(x["replay"]))
        print(f"\n## {outcome} x{len(hits)} in {test}\n{example['why'][:1200]}\n"
              f"{example['replay']}")


if __name__ == "__main__":
    main(sys.argv[1])
