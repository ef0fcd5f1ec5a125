"""POST /webhooks/git/{projectId}: GitHub-compatible push webhooks (see app/domain/webhooks)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.deps import Deps
from app.domain import webhooks
from app.errors import NotFound, UserInputError
from app.ids import parse_id
from app.uow import transaction


async def git_push(request: Request) -> Response:
    deps: Deps = request.app.state.deps
    try:
        project_id = parse_id(request.path_params["project_id"], "Project")
    except NotFound:
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    body = await request.body()
    if len(body) > webhooks.MAX_BODY_BYTES:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    try:
        async with transaction(deps, None) as uow:
            result = await webhooks.handle(
                uow,
                project_id=project_id,
                event=request.headers.get("x-github-event"),
                delivery_id=request.headers.get("x-github-delivery"),
                signature=request.headers.get("x-hub-signature-256"),
                body=body,
            )
    except UserInputError as exc:
        # Nothing was written (the delivery is not recorded either): once the project is
        # fixed (a git URL set, say), a redelivery from the git host builds.
        problems = [{"code": e.code.value, "message": e.message} for e in exc.errors]
        return JSONResponse({"error": str(exc), "problems": problems}, status_code=422)
    return JSONResponse(result.body, status_code=result.status)
