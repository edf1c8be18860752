#!/usr/bin/env bash
# Sets up everything ocr-assets needs, and does nothing that is already done (safe to re-run):
# Tesseract with its English, German and orientation models and the system word lists
# (apt-get, when missing), a virtualenv in .venv, and the project with its test tools
# installed into it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# wamerican, wbritish, wngerman: the word lists of the garbage detector (/usr/share/dict).
# tesseract-ocr-frk, tesseract-ocr-script-frak: the Fraktur models (`frk`, `script/Fraktur`)
# that `lang = "auto"` and the documented Fraktur folders use (docs/configuration.md).
# poppler-utils: `pdftotext`, which the tests read searchable PDFs back with
# (docs/searchable-pdf.md). unpaper: the optional cleaning step (`clean = true`).
APT_PACKAGES=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd tesseract-ocr-deu
              tesseract-ocr-frk tesseract-ocr-script-frak
              wamerican wbritish wngerman poppler-utils unpaper)

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  elif command -v sudo >/dev/null && [[ -t 0 ]]; then sudo "$@"
  else return 1
  fi
}

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  missing+=("python3-venv")
fi
if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null; then
    say "missing: ${missing[*]}, and this is not a Debian/Ubuntu system; install Tesseract 5" \
        "with its eng, osd and deu models, the word lists in /usr/share/dict (wamerican," \
        "wbritish, wngerman) and Python's venv module, then run this again."
    exit 1
  fi
  say "installing ${missing[*]} with apt-get"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
     || ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
    say "could not install ${missing[*]}: run as root, or ask an administrator for:" \
        "sudo apt-get install ${missing[*]}"
    exit 1
  fi
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "Python >= 3.11 is needed; $("$PYTHON" --version 2>&1) found. Set PYTHON=/path/to/python3.11."
  exit 1
fi

if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the dependency list changed since the last install.
stamp=.venv/.ocr-assets-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
  say "installing ocr-assets and its dependencies into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test,tesserocr,cluster]"
  echo "$wanted" > "$stamp"
fi
