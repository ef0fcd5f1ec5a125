# syntax=docker/dockerfile:1
# Multi-stage: build a wheel with its dependencies, run as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip
COPY pyproject.toml README.md ./
COPY app ./app
COPY db ./db
COPY resolvers ./resolvers
COPY jobs ./jobs
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    STRATUS_HOST=0.0.0.0 STRATUS_PORT=8000 STRATUS_ENV=production
RUN apt-get update && apt-get install -y --no-install-recommends git curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 stratus
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
USER stratus
WORKDIR /home/stratus
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
# DATABASE_URL and REDIS_URL must be given; run `stratus migrate` once per release.
ENTRYPOINT ["stratus"]
CMD ["serve"]
