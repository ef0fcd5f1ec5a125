import json
from pathlib import Path

import pytest

from app.runtime.build import BuildOverrides, DetectionError, Step, detect
from app.runtime.build.procfile import parse_procfile


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def package(**scripts: str) -> str:
    return json.dumps({"name": "app", "version": "1.0.0", "scripts": scripts})


def test_node_with_lockfile_build_and_start(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "package.json": package(build="vite build", start="node server.js"),
            "package-lock.json": "{}",
        },
    )
    plan = detect(tmp_path)
    assert plan.framework == "node"
    assert plan.steps == (Step("install", "npm ci"), Step("build", "npm run build"))
    assert plan.start_command == "npm start"
    assert plan.processes == {"web": "npm start"}
    assert plan.cache_key_files == ("package-lock.json",)
    assert plan.cache_dirs == ("node_modules",)


def test_node_without_lockfile_or_scripts(tmp_path: Path) -> None:
    write(tmp_path, {"package.json": package()})
    plan = detect(tmp_path)
    assert plan.steps == (Step("install", "npm install"),)
    assert plan.start_command is None and plan.processes == {}
    assert plan.cache_key_files == ("package.json",)


def test_node_invalid_package_json(tmp_path: Path) -> None:
    write(tmp_path, {"package.json": "{nope"})
    with pytest.raises(DetectionError, match=r"package\.json is not valid JSON"):
        detect(tmp_path)


def test_python_requirements_with_procfile(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "flask\n",
            "Procfile": "web: gunicorn app:app\nworker: python worker.py\n",
        },
    )
    plan = detect(tmp_path)
    assert plan.framework == "python"
    [install] = plan.steps
    # The venv is created only when the dependency cache did not restore one.
    assert install.command.startswith("{ [ -x .venv/bin/python ] || python -m venv .venv; } && ")
    assert install.command.endswith("install --disable-pip-version-check -r requirements.txt")
    assert plan.start_command == "gunicorn app:app"
    assert plan.processes == {"web": "gunicorn app:app", "worker": "python worker.py"}
    assert plan.cache_key_files == ("requirements.txt",) and plan.cache_dirs == (".venv",)


def test_python_pyproject_with_start_override(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[project]\nname='x'\n"})
    plan = detect(tmp_path, BuildOverrides(start_command="uvicorn app:app"))
    assert plan.steps[0].command.endswith("pip install --disable-pip-version-check .")
    assert plan.start_command == "uvicorn app:app"
    assert plan.cache_key_files == ("pyproject.toml",)


def test_procfile_only(tmp_path: Path) -> None:
    write(tmp_path, {"Procfile": "# comment\n\nweb: ./server --port $PORT\n"})
    plan = detect(tmp_path)
    assert plan.framework == "procfile" and plan.steps == ()
    assert plan.start_command == "./server --port $PORT"


def test_static_site_at_root_or_in_output_directory(tmp_path: Path) -> None:
    write(tmp_path / "a", {"index.html": "<h1>hi</h1>"})
    assert detect(tmp_path / "a").framework == "static"
    assert detect(tmp_path / "a").output_directory == "."

    write(tmp_path / "b", {"public/index.html": "<h1>hi</h1>"})
    plan = detect(tmp_path / "b", BuildOverrides(output_directory="public"))
    assert plan.framework == "static" and plan.output_directory == "public"


def test_overrides_win_over_detection(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "package.json": package(build="tsc", start="node ."),
            "Procfile": "web: node dist/index.js\n",
        },
    )
    plan = detect(
        tmp_path,
        BuildOverrides(
            install_command="npm ci --omit=dev",
            build_command="",
            start_command="node main.js",
            output_directory="dist",
        ),
    )
    assert plan.steps == (Step("install", "npm ci --omit=dev"),)
    assert plan.start_command == "node main.js" and plan.processes["web"] == "node main.js"
    assert plan.output_directory == "dist"


def test_framework_override_and_root_directory(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "apps/site/index.html": "x",
            "apps/site/package.json": package(),
            "package.json": package(),
        },
    )
    plan = detect(tmp_path, BuildOverrides(framework="static", root_directory="apps/site"))
    assert plan.framework == "static" and plan.steps == ()
    assert plan.root_directory == "apps/site"

    with pytest.raises(DetectionError, match="framework is set to python but no requirements"):
        detect(tmp_path, BuildOverrides(framework="python"))
    with pytest.raises(DetectionError, match="unknown framework 'rails'"):
        detect(tmp_path, BuildOverrides(framework="rails"))
    with pytest.raises(DetectionError, match="root directory 'missing' does not exist"):
        detect(tmp_path, BuildOverrides(root_directory="missing"))
    with pytest.raises(DetectionError, match="relative path inside the repository"):
        detect(tmp_path, BuildOverrides(root_directory="../etc"))


def test_nothing_found_names_what_was_looked_for(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": "hi"})
    with pytest.raises(DetectionError) as info:
        detect(tmp_path)
    assert str(info.value) == (
        "no package.json, requirements.txt, pyproject.toml, Procfile or index.html found in "
        "the repository root"
    )


def test_dockerfile_only_says_no_container_builder(tmp_path: Path) -> None:
    write(tmp_path, {"svc/Dockerfile": "FROM scratch\n"})
    with pytest.raises(DetectionError) as info:
        detect(tmp_path, BuildOverrides(root_directory="svc"))
    assert str(info.value) == (
        "no package.json, requirements.txt, pyproject.toml, Procfile or index.html found in "
        "'svc'; a Dockerfile was found but no container builder is configured"
    )


def test_symlinks_out_of_the_tree_are_ignored(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"package.json": package()})
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "package.json").symlink_to(outside / "package.json")
    with pytest.raises(DetectionError, match=r"no package\.json"):
        detect(tmp_path / "repo")


def test_procfile_parsing_errors() -> None:
    assert parse_procfile("web: a: b\nrelease:  migrate \n") == {
        "web": "a: b",
        "release": "migrate",
    }
    with pytest.raises(DetectionError, match="line 2 is not of the form"):
        parse_procfile("web: ok\njust words\n")
    with pytest.raises(DetectionError, match="'web' twice"):
        parse_procfile("web: a\nweb: b\n")
