#!/bin/bash
# envpack snapshot --list against git itself on 3 x 40 generated trees with nested .gitignore /
# .amlignore files (tests/fixtures/ignore_trees.py says what the trees hold).
set -euo pipefail
if ! command -v git >/dev/null; then
    echo "skipped: git is not installed"
    exit 77
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/ignore_trees.py" "$ENVPACK" "$scratch" 1 40
