#!/bin/bash
# The fp32 HSA kernels' untimed variants in one device call (issue 3's forward+backward <= 35 ms at 16K).
#
#   bash docs/experiments/fp32-sweep.sh prepare   # here, on a clean tree: main packed into .devpack/app.tar.xz,
#                                                 # and one tornado-kernels jar per patch set (.devpack/tk-*.jar)
#   device run, carry [".devpack"]:  bash docs/experiments/fp32-sweep.sh run    # results in $OUT/all.txt
#
# Variants (docs/experiments/hsa-fp32-async.md, section 5):
#   base   main's kernels; with -Dhsa.attn.kvOneSet=on bwd_kv's one-set staging (two entries per step)
#   swz    hsa-swizzle.patch: unpadded, swizzled tiles in bwd_q's whole-chunk and bwd_kv's one-entry forms
#   lanes  hsa-lanes-softmax.patch: the forward's softmax in registers, row sums by interleaved shuffles
#   both   the two patches together
# plus work-groups of 32 (8 x 4 micro-tiles) for each kernel, with no code change (bwd_kv's with one set).
# The kernels' --profile rows are independent, so one run can try one setting of each.
set -u
R=$PWD

prepare() {
  if [ -n "$(git status --porcelain -- tornado-kernels)" ]; then echo "fp32-sweep: tornado-kernels has local changes; commit or stash them first" >&2; exit 1; fi
  export JAVA_HOME=${JAVA_HOME:-$(ls -d /usr/lib/jvm/temurin-25* | head -1)} MAVEN_OPTS="--sun-misc-unsafe-memory-access=allow"
  mkdir -p .devpack
  mvn -B -q -o install -DskipTests || exit 1
  local cp; cp="eval/target/classes:$(ls eval/target/lib/*.jar | tr '\n' ':')"
  rm -rf .device && bash ../shared/device/pack.sh "$cp" && tar cJf .devpack/app.tar.xz .device && rm -rf .device
  local name patches
  for name in swz lanes both; do
    case $name in
      swz) patches="hsa-swizzle.patch" ;;
      lanes) patches="hsa-lanes-softmax.patch" ;;
      both) patches="hsa-lanes-softmax.patch hsa-swizzle.patch" ;;
    esac
    for p in $patches; do git apply -3 "docs/experiments/$p" || { git reset -q -- tornado-kernels; git checkout -- tornado-kernels; exit 1; }; done
    mvn -B -q -o -pl tornado-kernels package -DskipTests && cp tornado-kernels/target/tornado-kernels-0.1.0-SNAPSHOT.jar ".devpack/tk-$name.jar"
    git reset -q -- tornado-kernels && git checkout -- tornado-kernels
  done
  mvn -B -q -o -pl tornado-kernels package -DskipTests   # target/ back to main's kernels
  ls -la .devpack
}

run() {
  local B
  for B in base swz lanes both; do
    mkdir -p "/tmp/$B" && (cd "/tmp/$B" && tar xJf "$R/.devpack/app.tar.xz")
    [ "$B" != base ] && cp "$R/.devpack/tk-$B.jar" "/tmp/$B/.device/app/tornado-kernels-0.1.0-SNAPSHOT.jar"
  done
  O=$OUT/all.txt
  nvidia-smi --query-gpu=name,clocks.max.sm,driver_version --format=csv >> "$O"
  bench() {  # variant, then java properties; LEN, TMO from the environment
    local B=$1; shift
    echo "=== $B LEN=${LEN:-16K} $* ($(date -u +%H:%M:%S))" >> "$O"
    LD_PRELOAD=/tmp/$B/.device/jre/lib/libjsig.so timeout "${TMO:-60}" bash "/tmp/$B/.device/run" -Dhsa.tc=off "$@" \
      org.hsajava.cli.HsaCli bench hsa --length "${LEN:-16K}" --profile > /tmp/r.txt 2>&1
    echo "rc=$?" >> "$O"
    grep -E "hsa fwd|^fwdbwd\.(fwd|bwdq|bwdkv) |small products|Exception|rror" /tmp/r.txt | tail -30 >> "$O"
  }
  selfcheck() {
    local B=$1; shift
    echo "=== $B selfcheck $* ($(date -u +%H:%M:%S))" >> "$O"
    LD_PRELOAD=/tmp/$B/.device/jre/lib/libjsig.so timeout 120 bash "/tmp/$B/.device/run" -Dhsa.tc=off "$@" \
      org.hsajava.cli.HsaCli selfcheck > /tmp/s.txt 2>&1
    echo "rc=$?" >> "$O"
    grep -E "FAIL|checks|passed" /tmp/s.txt | tail -20 >> "$O"
  }
  bench base
  bench base -Dhsa.attn.kvOneSet=on
  bench swz
  bench lanes
  bench both -Dhsa.attn.kvOneSet=on
  bench base -Dhsa.attn.wg.FWD=32 -Dhsa.attn.wg.BWD_Q=32 -Dhsa.attn.kvOneSet=on -Dhsa.attn.wg.BWD_KV=32
  selfcheck base -Dhsa.attn.kvOneSet=on
  selfcheck both
  TMO=100 LEN=64K bench base
  TMO=100 LEN=64K bench both -Dhsa.attn.kvOneSet=on
  TMO=100 LEN=64K bench lanes
  selfcheck base -Dhsa.attn.wg.FWD=32 -Dhsa.attn.wg.BWD_Q=32
  bench both -Dhsa.attn.kvOneSet=on -Dhsa.attn.wg.FWD=32 -Dhsa.attn.wg.BWD_Q=32
  bench base
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
