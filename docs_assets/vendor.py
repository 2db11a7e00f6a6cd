"""Copies the documentation pages' browser bundles into app/static/docs/vendor.

The packages are installed with `npm ci` from package-lock.json (exact versions, integrity
hashes, no install scripts: see .npmrc), then exactly the files the pages load are copied, each
package's licence and bundled-code notices beside them, `PATCHES` applied (ReDoc's bundle
names one image on another origin), and a MANIFEST.json names every file with its package,
version and SHA-256. The copies are committed: the service needs nothing but Python to run.
Run it after changing package.json (`npm install --package-lock-only` first):

    python3 docs_assets/vendor.py        # or: make docs-assets
"""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
TARGET = HERE.parent / "app" / "static" / "docs" / "vendor"

# folder under vendor/ -> (npm package, {file in the package: name in the folder}).
FILES: dict[str, tuple[str, dict[str, str]]] = {
    "swagger-ui": (
        "swagger-ui-dist",
        {
            "swagger-ui-bundle.js": "swagger-ui-bundle.js",
            "swagger-ui.css": "swagger-ui.css",
            "LICENSE": "LICENSE",
            "NOTICE": "NOTICE",
            "swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt",
        },
    ),
    "redoc": (
        "redoc",
        {
            "bundles/redoc.standalone.js": "redoc.standalone.js",
            "LICENSE": "LICENSE",
            "bundles/redoc.standalone.js.LICENSE.txt": "redoc.standalone.js.LICENSE.txt",
            # The search worker is inlined in the standalone bundle; these are its notices.
            "bundles/d87bcbdbea8f8f5aa26f.worker.js.LICENSE.txt": "search-worker.LICENSE.txt",
        },
    ),
    "graphiql": (
        "graphiql",
        {
            "graphiql.min.js": "graphiql.min.js",
            "graphiql.min.css": "graphiql.min.css",
            "LICENSE": "LICENSE",
        },
    ),
    "graphiql-plugin-explorer": (
        "@graphiql/plugin-explorer",
        {"dist/index.umd.js": "index.umd.js", "dist/style.css": "style.css"},
    ),
    "react": (
        "react",
        {"umd/react.production.min.js": "react.production.min.js", "LICENSE": "LICENSE"},
    ),
    "react-dom": (
        "react-dom",
        {"umd/react-dom.production.min.js": "react-dom.production.min.js", "LICENSE": "LICENSE"},
    ),
}

# Licences a package does not ship itself: (folder, name in the folder, package, its file).
EXTRA_LICENCES = [
    # @graphiql/plugin-explorer (MIT) ships no LICENSE; it lives in graphql/graphiql, whose MIT
    # licence the graphiql package carries.
    ("graphiql-plugin-explorer", "LICENSE", "graphiql", "LICENSE"),
    # Its UMD bundle includes graphiql-explorer (MIT, OneGraph).
    ("graphiql-plugin-explorer", "LICENSE.graphiql-explorer", "graphiql-explorer", "LICENSE"),
]

# Edits the copies need: (folder, file, text, replacement, why); each text must occur once.
PATCHES = [
    (
        "redoc",
        "redoc.standalone.js",
        'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"',
        'src:""',
        # No option turns it off; an empty src fails at once, and the component then hides it.
        "Redocly's logo in the menu came from cdn.redoc.ly, another origin",
    ),
]


def _version(package: str) -> str:
    manifest = json.loads((MODULES / package / "package.json").read_text())
    return str(manifest["version"])


def _copy(source: Path, target: Path) -> dict[str, str]:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return {"sha256": hashlib.sha256(target.read_bytes()).hexdigest()}


def vendor() -> dict[str, dict[str, object]]:
    """Replace TARGET with fresh copies; the manifest of what was copied."""
    shutil.rmtree(TARGET, ignore_errors=True)
    copied: dict[str, dict[str, dict[str, str]]] = {
        folder: {
            name: _copy(MODULES / package / source, TARGET / folder / name)
            for source, name in files.items()
        }
        for folder, (package, files) in FILES.items()
    }
    for folder, name, package, source in EXTRA_LICENCES:
        entry = _copy(MODULES / package / source, TARGET / folder / name)
        copied[folder][name] = entry | {"from": f"{package}@{_version(package)}"}
    for folder, name, text, replacement, why in PATCHES:
        target = TARGET / folder / name
        content = target.read_bytes()  # bytes: every other byte stays as the package has it
        if content.count(text.encode()) != 1:
            raise SystemExit(f"{folder}/{name}: the patch for {why!r} no longer applies")
        target.write_bytes(content.replace(text.encode(), replacement.encode()))
        copied[folder][name] = {
            "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
            "patched": why,
        }
    manifest: dict[str, dict[str, object]] = {
        folder: {"package": package, "version": _version(package), "files": copied[folder]}
        for folder, (package, _) in FILES.items()
    }
    (TARGET / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main() -> int:
    npm = shutil.which("npm")
    if npm is None:
        print("npm is needed to vendor the documentation assets", file=sys.stderr)
        return 1
    install = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    subprocess.run(install, cwd=HERE, check=True)  # noqa: S603 (npm from PATH, fixed arguments)
    manifest = vendor()
    size = sum(path.stat().st_size for path in TARGET.rglob("*") if path.is_file())
    for folder, entry in manifest.items():
        print(f"{folder}: {entry['package']}@{entry['version']}")
    print(f"{TARGET.relative_to(HERE.parent)}: {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
