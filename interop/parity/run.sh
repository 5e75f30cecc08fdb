#!/usr/bin/env bash
# Parity of HSA-Java with the authors' PyTorch DRTForCausalLM (logits and loss, fp32, CPU).
#   interop/parity/run.sh --authors-git-dir /path/to/long-context-modeling/.git [options]
#   interop/parity/run.sh --authors-checkout /path/to/long-context-modeling [options]
# Options: see `interop/parity/run.sh --help` (parity.py). Needs Python 3 with PyTorch and NumPy
# (Debian: apt-get install python3-torch python3-numpy); $PYTHON picks the interpreter.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for py in ${PYTHON:-} python3 /usr/bin/python3; do
  if [ -n "$py" ] && "$py" -c 'import torch, numpy' 2>/dev/null; then
    exec "$py" "$here/parity.py" "$@"
  fi
done
echo "run.sh: no Python with torch and numpy found (apt-get install python3-torch python3-numpy, or set PYTHON)" >&2
exit 1
