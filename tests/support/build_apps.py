"""Tiny apps to build, as file trees for `tests.support.git_repos.create_repo`.

None of them needs the network: the Node apps have no registry dependencies (at most a
local ``file:`` one) and the Python app has an empty requirements.txt.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.git_repos import Files, GitRepo, create_repo

STATIC_SITE: Files = {
    "index.html": "<!doctype html><h1>hello from stratus</h1>\n",
    "about/index.html": "<h1>about</h1>\n",
}


def node_app(*, build: str = "node build.js", dependencies: dict[str, str] | None = None) -> Files:
    """A Node app whose build writes dist/index.html and whose start script serves it."""
    package = {
        "name": "node-app",
        "version": "1.0.0",
        "private": True,
        "scripts": {"build": build, "start": "node server.js"},
    }
    if dependencies:
        package["dependencies"] = dependencies
    return {
        "package.json": json.dumps(package, indent=2) + "\n",
        "build.js": "const fs = require('fs');\n"
        "fs.mkdirSync('dist', {recursive: true});\n"
        "fs.writeFileSync('dist/index.html', '<h1>built by node</h1>');\n"
        "console.log('built dist/index.html');\n",
        "server.js": "require('http').createServer((q, s) => s.end('ok'))"
        ".listen(process.env.PORT || 3000);\n",
    }


NODE_APP = node_app()
# The build script prints "boom" and fails.
BROKEN_NODE_APP = node_app(build="echo boom && exit 1")
# A local dependency gives npm a node_modules to create (and the cache something to keep).
NODE_APP_WITH_DEPENDENCY: Files = {
    **node_app(dependencies={"greeting": "file:./greeting"}),
    "greeting/package.json": json.dumps({"name": "greeting", "version": "1.0.0"}) + "\n",
    "greeting/index.js": "module.exports = 'hello';\n",
}

PYTHON_APP: Files = {
    "requirements.txt": "",
    "Procfile": "web: .venv/bin/python -m http.server $PORT\n",
    "app.py": "print('hello')\n",
}


def app_repo(base: Path, files: Files, *, name: str = "app") -> GitRepo:
    """A bare repository (file:// URL) with `files` committed on main."""
    return create_repo(base, files, name=name)
