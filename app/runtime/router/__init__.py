"""The built-in router: `Host: <project>-<environment>.localhost` -> the live release(s).

A process of its own (`python -m app.runtime.router --port 8080`), an HTTP/1.1 reverse proxy
on raw asyncio protocols and httptools, with keep-alive pools to the apps.

    keys      Redis key names (one prefix)
    table     routing table model, weighted `pick`, Redis format + writer helpers
    sync      follows the Redis table (pub/sub + periodic reload)
    metrics   per-deployment counters, Redis flush format, Prometheus text
    wire      header rewriting, the router's own JSON answers, write batching
    upstream  pooled keep-alive connections to the apps
    exchange  one request/response between a client and an app (streaming, errors)
    client    the accepted connection: parsing, pipelining, backpressure
    admin     /__stratus/metrics, /__stratus/healthz, /__stratus/routes on the admin port
    server    `Router`: listeners, background loops, graceful drain
    __main__  command line

Writers only need `table` (and readers of counters `metrics`): nothing heavy is imported here.
"""
