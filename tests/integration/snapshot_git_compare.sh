#!/bin/bash
# envpack snapshot --list against git itself on 3 x 40 generated trees with nested .gitignore /
# .amlignore files (tests/fixtures/ignore_trees.py says what the trees hold).
source "$(dirname "$0")/lib.sh"
need git
"$PY" "$FIXTURES/ignore_trees.py" "$ENVPACK" "$SCRATCH" 1 40
