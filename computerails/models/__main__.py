"""Retrain the digits classifier and rewrite its files: ``python -m computerails.models``.

Prints the new weights' sha256 and the held-out accuracy; record the hash as
``computerails.models.digits.WEIGHTS_SHA256`` when it changed (the load check refuses it until then).
"""

from __future__ import annotations

from pathlib import Path

from computerails.models import digits


def main() -> None:
    folder = Path(digits.__file__).parent
    sha = digits.write_files(folder)
    split = digits.dataset()
    model = digits.weights_from_bytes((folder / digits.WEIGHTS_FILE).read_bytes(), expected_sha256=sha)
    print(f"weights sha256 {sha} (recorded: {digits.WEIGHTS_SHA256})")
    print(f"held-out accuracy {digits.accuracy(model, split.test_x, split.test_y):.4f} on {len(split.test_y)} images")


if __name__ == "__main__":
    main()
