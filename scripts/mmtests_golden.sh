#!/bin/bash
# Rebuild tests/bench/golden/mmtests-*.txt by running the real compare-mmtests.pl.
#
# Usage: scripts/mmtests_golden.sh TTEST_TREE CI_TREE
#   TTEST_TREE: an export of gormanm/mmtests at 93946ac6 (2024-08-13, the last t-test-era commit
#               whose plain-text output has stars); CI_TREE: an export at a0369e62 (2025-12-23,
#               CI era, before the will-it-scale extractor became ExtractShellpack).
# Needs perl (File::Which, List::MoreUtils, File::Slurp) and R (r-base-core) on PATH: without
# R both eras star every difference. Tables are joined as maplebench prints them: benchmarks in
# folder order (kernbench, then wis-*), separated by one blank line.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=$here/tests/bench/data
golden=$here/tests/bench/golden
runs=6.8.0-base,6.8.0-patched
table() {  # TREE DIR BENCH
	(cd "$2" && perl "$1/bin/compare-mmtests.pl" -d . -b "$3" -n "$runs")
}
{ table "$1" "$data/mmtests-old" kernbench; echo; table "$1" "$data/mmtests-old" wis-malloc; } \
	> "$golden/mmtests-ttest.txt"
{ table "$2" "$data/mmtests-ci" kernbench; echo; table "$2" "$data/mmtests-ci" wis-malloc; } \
	> "$golden/mmtests-ci.txt"
# The CI-era code reading the t-test tree (with its zero samples) dies in Compare.pm; kernbench
# alone has none, so it is the CI-era check on that tree.
table "$2" "$data/mmtests-old" kernbench > "$golden/mmtests-kernbench-ci.txt"
