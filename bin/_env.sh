# Sourced by bin/demo and bin/test: make .venv with Python 3.12 and install requirements.lock into it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

find_python() {
  for candidate in python3.12 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  echo "Python 3.12 is needed (python3.12 not found on PATH)." >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $(find_python)"
  "$(find_python)" -m venv .venv
fi
lock_hash=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ "$(cat .venv/.installed 2>/dev/null)" != "$lock_hash" ]; then
  echo "Installing requirements.lock into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
  echo "$lock_hash" > .venv/.installed
fi
export PATH="$PWD/.venv/bin:$PATH"
