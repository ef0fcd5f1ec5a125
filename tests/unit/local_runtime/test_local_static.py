"""Static-site releases: served from the artifact by the built-in server process."""

from __future__ import annotations

import httpx
from runtime_support import wait_healthy

from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.local import LocalRuntime
from tests.support.release_apps import STATIC_SITE, put_artifact, spec, static_artifact


async def test_static_release_is_served_from_the_artifact(
    runtime: LocalRuntime, store: FilesystemArtifactStore
) -> None:
    uri = await static_artifact(store)
    handle = await runtime.start_release(spec("site1", uri, framework="static", health_path="/"))
    await wait_healthy(runtime, "site1")

    async with httpx.AsyncClient(base_url=f"http://{handle.upstream}", trust_env=False) as http:
        home = await http.get("/")
        assert home.status_code == 200
        assert "hello static" in home.text
        assert home.headers["content-type"] == "text/html; charset=utf-8"

        types = {
            "/app.js": "text/javascript; charset=utf-8",
            "/style.css": "text/css; charset=utf-8",
            "/data.json": "application/json; charset=utf-8",
            "/logo.svg": "image/svg+xml; charset=utf-8",
        }
        for path, expected in types.items():
            assert (await http.get(path)).headers["content-type"] == expected, path

        redirect = await http.get("/about?x=1")
        assert redirect.status_code == 308
        assert redirect.headers["location"] == "/about/?x=1"
        assert "about" in (await http.get("/about/")).text
        assert "pricing" in (await http.get("/pricing")).text  # clean URL for pricing.html

        missing = await http.get("/nope")
        assert missing.status_code == 404
        assert "custom not found" in missing.text
        for hidden in ("/.env", "/%2e%2e/%2e%2e/etc/passwd", "/../../etc/passwd"):
            assert (await http.get(hidden)).status_code == 404, hidden

        head = await http.head("/")
        assert head.status_code == 200
        assert head.content == b""
        assert int(head.headers["content-length"]) == len(home.content)

        etag = home.headers["etag"]
        cached = await http.get("/", headers={"If-None-Match": etag})
        assert cached.status_code == 304
        assert cached.headers["etag"] == etag
        assert (await http.get("/", headers={"If-None-Match": '"other"'})).status_code == 200

        assert (await http.post("/", content=b"x")).status_code == 405


async def test_no_start_command_with_index_html_is_static(
    runtime: LocalRuntime, store: FilesystemArtifactStore
) -> None:
    uri = await static_artifact(store)
    handle = await runtime.start_release(spec("site2", uri, framework="node", health_path="/"))
    await wait_healthy(runtime, "site2")
    async with httpx.AsyncClient(trust_env=False) as http:
        assert "hello static" in (await http.get(f"http://{handle.upstream}/")).text


async def test_answers_stay_the_same_from_memory_and_for_large_files(
    runtime: LocalRuntime, store: FilesystemArtifactStore
) -> None:
    """Small files are answered from memory after the first request, larger ones streamed
    from disk: the same bytes and headers either way."""
    big = "".join(f"line {i:07d}\n" for i in range(40_000))  # ~520 KiB, past the memory cap
    uri = await put_artifact(store, "static-big", {**STATIC_SITE, "big.txt": big})
    handle = await runtime.start_release(spec("site3", uri, framework="static", health_path="/"))
    await wait_healthy(runtime, "site3")
    async with httpx.AsyncClient(base_url=f"http://{handle.upstream}", trust_env=False) as http:
        for path in ("/", "/big.txt", "/pricing"):
            first, second = await http.get(path), await http.get(path)
            assert first.status_code == second.status_code == 200, path
            assert first.content == second.content, path
            assert first.headers["etag"] == second.headers["etag"], path
            assert int(first.headers["content-length"]) == len(first.content), path
            assert first.headers["cache-control"] == "no-cache", path
            again = await http.get(path, headers={"If-None-Match": first.headers["etag"]})
            assert again.status_code == 304, path
        assert (await http.get("/big.txt")).text == big
        # The custom 404 page is the same file as /404.html, without its ETag.
        page, missing = await http.get("/404.html"), await http.get("/nope")
        assert page.status_code == 200 and "etag" in page.headers
        assert missing.status_code == 404 and "etag" not in missing.headers
        assert missing.content == page.content
        assert missing.headers["content-type"] == "text/html; charset=utf-8"
