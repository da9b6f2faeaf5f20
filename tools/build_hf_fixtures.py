"""Build tests/fixtures/huggingface/ from ../shared/data/huggingface (facts only).

- ``model_info/``: the real ``GET /api/models/{id}`` JSON bodies, byte for byte (only
  the full ones; the ``?expand=inferenceProviderMapping`` bodies hold nothing we read).
- ``legacy_2022/``: the real 2022 model-list items, byte for byte.
- ``cards/``, ``dataset_cards/``, ``parser_cards/``: each README cut to its YAML front
  matter (leading blank lines and line endings kept, since the parser must cope with
  them) plus a one-line placeholder body; card prose is not copied.
- ``configs/nateraw__vit-base-beans.json``: the label space of the beans classifier,
  from the class-label mapping of the beans dataset card (angular_leaf_spot 0,
  bean_rust 1, healthy 2), with the model type the 2022 list item gives.

Run: ``python tools/build_hf_fixtures.py [--shared ../shared/data/huggingface]``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared" / "data" / "huggingface"
OUT = REPO / "tests" / "fixtures" / "huggingface"

FRONT_MATTER_RE = re.compile(
    r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
PLACEHOLDER = "(card body omitted from the fixture: only the metadata is kept)"


def front_matter_only(text: str) -> str:
    """The card's front matter with a placeholder body, keeping its line endings."""
    newline = "\r\n" if "\r\n" in text else "\n"
    m = FRONT_MATTER_RE.search(text)
    head = text[:m.end()] if m else ""
    if head and not head.endswith(("\n", "\r")):
        head += newline
    return f"{head}{newline}{PLACEHOLDER}{newline}"


def _cards(src: Path, dst: Path) -> list[str]:
    dst.mkdir(parents=True, exist_ok=True)
    names = []
    for f in sorted(src.glob("*.md")):
        text = f.read_bytes().decode("utf-8")
        (dst / f.name).write_bytes(front_matter_only(text).encode("utf-8"))
        names.append(f.name)
    return names


def build(shared: Path, out: Path = OUT) -> dict[str, int]:
    """Write the fixtures; returns how many files of each kind were written."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    counts: dict[str, int] = {}
    info_dir = out / "model_info"
    info_dir.mkdir()
    n = 0
    for f in sorted((shared / "api" / "model_info").glob("*.json")):
        if "__expand-" in f.name:
            continue
        shutil.copyfile(f, info_dir / f.name)
        n += 1
    counts["model_info"] = n
    legacy = out / "legacy_2022"
    legacy.mkdir()
    n = 0
    for f in sorted((shared / "api" / "legacy_2022_model_list_items").glob("*.json")):
        shutil.copyfile(f, legacy / f.name)
        n += 1
    counts["legacy_2022"] = n
    counts["cards"] = len(_cards(shared / "model_cards", out / "cards"))
    counts["dataset_cards"] = len(_cards(shared / "dataset_cards", out / "dataset_cards"))
    counts["parser_cards"] = len(_cards(shared / "card_parser_fixtures", out / "parser_cards"))
    configs = out / "configs"
    configs.mkdir()
    beans = {"architectures": ["ViTForImageClassification"], "model_type": "vit",
             "id2label": {"0": "angular_leaf_spot", "1": "bean_rust", "2": "healthy"},
             "label2id": {"angular_leaf_spot": 0, "bean_rust": 1, "healthy": 2}}
    (configs / "nateraw__vit-base-beans.json").write_text(json.dumps(beans, indent=1) + "\n")
    counts["configs"] = 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = parser.parse_args()
    print(build(args.shared))


if __name__ == "__main__":
    main()
