"""Refresh the message catalogs: extract, merge into zh and en, fill from a translation table, compile.

    python scripts/i18n.py            # after changing user-visible strings
    python scripts/i18n.py --check    # exit 1 when a string has no Chinese translation

New Chinese translations are added by editing greenshield/translations/zh/LC_MESSAGES/messages.po.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "greenshield" / "translations"


def pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def untranslated() -> list[str]:
    with open(TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f)
    return [m.id for m in catalog if m.id and not m.fuzzy
            and (not m.string if isinstance(m.string, str) else not all(m.string))]  # plurals: every form


def main() -> int:
    pot = str(TRANSLATIONS / "messages.pot")
    pybabel("extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--no-location", "--omit-header",
            "-o", pot, ".")
    for lang in ("zh", "en"):
        po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
        if po.exists():
            pybabel("update", "-i", pot, "-d", str(TRANSLATIONS), "-l", lang, "--no-fuzzy-matching")
        else:
            pybabel("init", "-i", pot, "-d", str(TRANSLATIONS), "-l", lang)
    pybabel("compile", "-d", str(TRANSLATIONS), "--use-fuzzy")
    missing = untranslated()
    if missing:
        print(f"{len(missing)} strings lack a Chinese translation:", *missing, sep="\n  ")
    return 1 if missing and "--check" in sys.argv else 0


if __name__ == "__main__":
    sys.exit(main())
