"""SUCCEEDED build rows for deployment tests, without running the build pipeline.

The build runner has its own tests; deployment tests need a releasable build: a row pointing
at an artifact put with the real FilesystemArtifactStore (or at a URI only, for runtimes that
never open it, such as the Kubernetes one under kmock).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.deps import Deps
from app.runtime.build.artifacts import FilesystemArtifactStore
from db import models
from db.enums import BuildStatus, BuildTrigger

Files = dict[str, str]


async def succeeded_build(
    deps: Deps,
    project_id: uuid.UUID,
    *,
    files: Files | None = None,
    start_command: str | None = "python app.py",
    framework: str = "python",
    environment: str | uuid.UUID = "production",
    git_ref: str = "main",
) -> uuid.UUID:
    """Add the build (and its artifact when `files` are given); returns its id.

    `environment` is a name of the project's environments or an environment id.
    """
    build_id = uuid.uuid4()
    artifact_uri = f"fs://{build_id}.tar.gz"
    if files is not None:
        root = deps.settings.state_dir / "src" / build_id.hex
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        store = FilesystemArtifactStore(deps.settings.artifacts_dir)
        artifact_uri = (await store.put(str(build_id), root)).uri
    async with deps.sessionmaker() as s, s.begin():
        project = await s.get(models.Project, project_id)
        assert project is not None
        env_id = (
            environment
            if isinstance(environment, uuid.UUID)
            else await s.scalar(
                select(models.Environment.id).where(
                    models.Environment.project_id == project_id,
                    models.Environment.name == environment,
                )
            )
        )
        s.add(
            models.Build(
                id=build_id,
                team_id=project.team_id,
                project_id=project_id,
                environment_id=env_id,
                number=int(uuid.uuid4().int % 1_000_000),
                git_ref=git_ref,
                trigger=BuildTrigger.MANUAL,
                status=BuildStatus.SUCCEEDED,
                steps=[],
                attempt=1,
                last_log_seq=0,
                artifact_uri=artifact_uri,
                framework=framework,
                start_command=start_command,
            )
        )
    return build_id
