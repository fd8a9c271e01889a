#!/bin/bash
# Submit a Spade sweep to Slurm: an N-task job array of shards, then a merge that waits for all of
# them (afterok). Prints the two job ids, array first.
#
#   experiments/cluster/slurm-submit.sh <experiment> <N> [extra sbatch flags, e.g. --partition=cpu]
set -euo pipefail

experiment=${1:?usage: slurm-submit.sh <experiment> <shards> [sbatch flags...]}
shards=${2:?usage: slurm-submit.sh <experiment> <shards> [sbatch flags...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
array=$(sbatch --parsable "$@" --array=0-$((shards - 1)) "$here/slurm-array.sbatch" "$experiment")
array=${array%%;*}
merge=$(sbatch --parsable "$@" --dependency=afterok:"$array" "$here/slurm-merge.sbatch" "$experiment")
echo "$array ${merge%%;*}"
