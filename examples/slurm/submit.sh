#!/bin/bash
# Runs a stzlab sweep on a Slurm cluster: a job array of N shards, then a merge job that waits on
# the whole array. Prints the two job ids; the merged result appears in OUT/all.
#
#   examples/slurm/submit.sh SCENARIO.toml OUT N [--set key=value ...]
#
# STZLAB names the binary (default: stzlab on the PATH; `cargo install --path .` puts it there).
# Extra sbatch options (partition, account, time) go in SBATCH_* variables, e.g. SBATCH_PARTITION.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 SCENARIO.toml OUT N [--set key=value ...]" >&2
    exit 2
fi
# Absolute paths: the jobs run in OUT, not here.
scenario=$(realpath "$1") out=$(realpath -m "$2") shards=$3
shift 3
case "$shards" in '' | *[!0-9]* | 0)
    echo "$0: N = '$shards' must be a whole number >= 1" >&2
    exit 2
    ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
stzlab=${STZLAB:-stzlab}
case "$stzlab" in */*) stzlab=$(realpath "$stzlab") ;; esac
export STZLAB="$stzlab" SCENARIO="$scenario" OUT="$out" SHARDS="$shards" SETS="$*"
array=$(sbatch --parsable --chdir="$out" --array="1-$shards" "$here/shard.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --chdir="$out" --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    "$here/merge.sbatch")
merge=${merge%%;*}
echo "array $array ($shards shards), merge $merge: the result will be in $out/all"
