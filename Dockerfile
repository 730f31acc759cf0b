# scim-proxy: a slim, non-root image running `scim-proxy serve`.
# Configure with SCIM_PROXY_<SECTION>_<KEY> environment variables, or mount a TOML file
# and point SCIM_PROXY_CONFIG at it (see config.example.toml).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scim_proxy ./scim_proxy
# With the otel extra: traces are exported once OTEL_EXPORTER_OTLP_ENDPOINT is set
# (docs/operations.md, "Traces"); without it, the variables would only log a warning.
RUN pip install --no-cache-dir --prefix=/install ".[otel]"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin scimproxy
COPY --from=build /install /usr/local
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SCIM_PROXY_SERVER_HOST=0.0.0.0 \
    SCIM_PROXY_SERVER_PORT=8080
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SCIM_PROXY_SERVER_PORT', '8080') + '/healthz', timeout=2)"]
ENTRYPOINT ["scim-proxy", "serve"]
