#!/bin/bash
# envpack snapshot vs git and tar on a generated tree of ~80,000 files in nested directories with a
# few dozen .gitignore/.amlignore files (tests/fixtures/snapshot_bench_tree.py).
#   1. listing: `envpack snapshot --list` vs `git ls-files --others --exclude-standard`
#   2. writing: `envpack snapshot -o FILE.tar` vs `tar -c` of the same files, in MB/s
# Each side runs RUNS times after a warm-up (page cache hot); the median is printed.
set -euo pipefail
ENVPACK=${ENVPACK:-build/cli/envpack}
ENVPACK=$(realpath "$ENVPACK")
FILES=${FILES:-80000}
RUNS=${RUNS:-5}
src=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tree="$scratch/tree"
/usr/bin/python3 "$src/tests/fixtures/snapshot_bench_tree.py" "$tree" "$FILES"
git init -q "$tree"
git_ls() { git -C "$tree" -c core.excludesFile=/dev/null ls-files --others --exclude-standard; }

calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
# median wall time in seconds of RUNS runs of "$@" (stdout discarded)
median() {
    local times=()
    "$@" >/dev/null
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0=$(date +%s.%N)
        "$@" >/dev/null
        t1=$(date +%s.%N)
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')")
    done
    printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p"
}

# The trees differ only by .amlignore, which git does not read; list the same files on both sides
# by giving git a copy of each .amlignore as that directory's .gitignore.
find "$tree" -name .amlignore | while read -r f; do cp "$f" "$(dirname "$f")/.gitignore"; done
"$ENVPACK" snapshot "$tree" --list > "$scratch/envpack.txt"
git_ls | LC_ALL=C sort > "$scratch/git.txt"
n=$(wc -l < "$scratch/envpack.txt")
if ! cmp -s "$scratch/envpack.txt" "$scratch/git.txt"; then
    echo "note: listings differ ($(wc -l < "$scratch/git.txt") lines from git); first differences:"
    diff "$scratch/envpack.txt" "$scratch/git.txt" | head -5
fi
echo "tree: $(find "$tree" -type f -not -path '*/.git/*' | wc -l) files, $n included, $(nproc) CPUs, ENVPACK_THREADS=${ENVPACK_THREADS:-default}"

t_env=$(median "$ENVPACK" snapshot "$tree" --list)
t_git=$(median git_ls)
printf 'list   envpack snapshot --list       %7.3f s\n' "$t_env"
printf 'list   git ls-files -o --exclude-std %7.3f s   (envpack is %.2fx git'"'"'s speed)\n' "$t_git" \
    "$(calc "$t_git / $t_env")"

bytes=$(cd "$tree" && tr '\n' '\0' < "$scratch/envpack.txt" | du -cb --files0-from=- | tail -1 | cut -f1)
write_env() { "$ENVPACK" snapshot "$tree" --max-bytes 0 --max-files 0 -o "$scratch/snap.tar"; }
write_tar() { tar -C "$tree" --no-recursion -cf "$scratch/tar.tar" -T "$scratch/envpack.txt"; }
t_wenv=$(median write_env)
t_wtar=$(median write_tar)
mb=$(calc "$bytes / 1000000")
printf 'write  envpack snapshot -o x.tar     %7.3f s  %7.1f MB/s  (%.0f MB: walk + sha256 of every file + tar + sha256 of the tar)\n' \
    "$t_wenv" "$(calc "$mb / $t_wenv")" "$mb"
printf 'write  tar -c (same file list)       %7.3f s  %7.1f MB/s\n' "$t_wtar" "$(calc "$mb / $t_wtar")"
